"""Split an interaction log into a train file and a test file, per user.

    uv run python scripts/split_log.py LOG OUT_DIR [--format movielens|csv]
        [--protocol user-latest|random] [--seed 42]

From every user who touched at least 5 posts, the 20 % of their posts they touched last (at
least one) go to the test file with every interaction on them, the rest to the train file:
the rule of `recodb evaluate --protocol user-latest` and of training's validation
(recodb.training.validation.user_split). OUT_DIR gets `train.<ext>` and `test.<ext>` in the
input's format, plus the MovieLens titles file found beside LOG (u.item, u.genre, movies.csv or
movies.dat), so that an import of the train file gives posts their text. Then:

    recodb import OUT_DIR/train.data            # train and tune on this only
    recodb train --tune
    recodb evaluate --train OUT_DIR/train.data --test OUT_DIR/test.data
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from recodb.data import importer
from recodb.evaluation.evaluate import split_log

TITLE_FILES = ("u.item", "u.genre", "movies.csv", "movies.dat")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--format", default="movielens", choices=importer.FORMATS)
    parser.add_argument("--protocol", default="user-latest", choices=("user-latest", "random"))
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    log = importer.parse(args.log, args.format)
    train, test = split_log(log, args.protocol, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    ext = "data" if args.format == "movielens" else "csv"
    for name, part in (("train", train), ("test", test)):
        importer.write(part, args.out / f"{name}.{ext}", args.format)
    if args.format == "movielens":
        for name in TITLE_FILES:
            if (args.log.parent / name).is_file() and args.log.parent != args.out:
                shutil.copyfile(args.log.parent / name, args.out / name)
    print(
        f"{len(log):,} interactions of {len(set(log.users)):,} users: "
        f"{len(train):,} to {args.out / f'train.{ext}'}, {len(test):,} "
        f"({len(set(test.users)):,} users) to {args.out / f'test.{ext}'}"
    )


if __name__ == "__main__":
    main()
