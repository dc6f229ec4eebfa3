"""A/B of engine functions on one database: fresh slates timed inside the server.

    uv run python scripts/ab_functions.py --before REV sql/internal/slate_parts.sql [...]
        [--pairs 8] [--users 500]

Arm "before" is the named sql/ files as git revision REV has them; arm "now" is the working
tree's. Each pair applies one arm (`create or replace`, as `recodb migrate` does), then the
other, and times `recommend(user)` for the same users in a PL/pgSQL loop (`clock_timestamp()`,
their slates deleted first, after 50 other users to warm the connection's plans): the mean per
fresh slate, without a client's round trip. Each pair takes other users, whose slates are
computed once untimed before either arm (so that the first arm does not pay for reading their
pages from disk), and which arm goes first alternates. The working tree's
functions are applied again at the end, whatever happens. Uses RECODB_HOME or DATABASE_URL like
the CLI; the database needs an active model. Run it on a quiet machine, or compare pairs.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

import psycopg

from recodb import db
from recodb.config import source_path

TIMED = """
create or replace function pg_temp.ab_fresh(p_users uuid[]) returns double precision
language plpgsql as $$
declare
    v_user uuid;
    v_started timestamptz;
begin
    delete from recodb.slate where user_id = any (p_users);
    v_started := clock_timestamp();
    foreach v_user in array p_users loop
        perform count(*) from recodb.recommend(v_user);
    end loop;
    return extract(epoch from clock_timestamp() - v_started) * 1000 / cardinality(p_users);
end
$$
"""


def texts_at(revision: str | None, files: list[str]) -> list[str]:
    """The files' texts at `revision` (None: the working tree)."""
    root = source_path(".")
    if revision is None:
        return [(root / name).read_text() for name in files]
    out = []
    for name in files:
        shown = subprocess.run(
            ["git", "show", f"{revision}:{name}"], cwd=root, capture_output=True, text=True
        )
        if shown.returncode != 0:
            sys.exit(f"ab_functions.py: {name} at {revision}: {shown.stderr.strip()}")
        out.append(shown.stdout)
    return out


def apply(url: str, texts: list[str]) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("set local check_function_bodies = off")
        for text in texts:
            conn.execute(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", help="sql/ files, relative to the repository")
    parser.add_argument("--before", required=True, help="the git revision of arm 'before'")
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--users", type=int, default=500, help="users timed per arm and pair")
    args = parser.parse_args()
    if args.pairs < 1 or args.users < 1:
        parser.error("--pairs and --users must be at least 1")
    for name in args.files:
        if not (source_path(".") / name).is_file() or Path(name).suffix != ".sql":
            parser.error(f"{name}: not a .sql file of the repository")
    arms = {"before": texts_at(args.before, args.files), "now": texts_at(None, args.files)}
    url = db.resolve().url
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "select recodb.model_table_name('user', version) from recodb.model"
            " where status = 'active'"
        ).fetchone()
        if row is None:
            parser.error("no active model: train one first")
        users = [
            r[0]
            for r in conn.execute(
                f"select user_id from {row[0]} order by md5(user_id::text) limit %s",  # noqa: S608
                ((args.pairs + 1) * args.users + 50,),
            )
        ]
    if len(users) < args.users + 50:
        parser.error(f"the model has {len(users)} users: too few for --users {args.users}")
    chunks = (len(users) - 50) // args.users  # other users for each pair, while there are
    results: dict[str, list[float]] = {arm: [] for arm in arms}
    try:
        for pair in range(args.pairs):
            chunk = users[50 + (pair % chunks) * args.users :][: args.users]
            order = list(arms) if pair % 2 == 0 else list(arms)[::-1]
            with psycopg.connect(url, autocommit=True) as conn:  # read their pages once first
                conn.execute(TIMED)
                conn.execute("select pg_temp.ab_fresh(%s)", (chunk,))
            for arm in order:
                apply(url, arms[arm])
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(TIMED)
                    conn.execute("select pg_temp.ab_fresh(%s)", (users[:50],))
                    (ms,) = conn.execute("select pg_temp.ab_fresh(%s)", (chunk,)).fetchone()
                results[arm].append(ms)
            print(
                f"pair {pair + 1}: "
                + ", ".join(f"{arm} {results[arm][-1]:.2f} ms" for arm in order)
                + f" (first: {order[0]})",
                flush=True,
            )
    finally:
        apply(url, arms["now"])
    wins = sum(n < b for n, b in zip(results["now"], results["before"], strict=True))
    for arm, values in results.items():
        print(f"{arm}: median {statistics.median(values):.2f} ms per fresh slate")
    print(f"now faster in {wins} of {args.pairs} pairs")


if __name__ == "__main__":
    main()
