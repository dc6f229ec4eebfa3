"""`recodb generate`, `seed` and `import`: data in."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from recodb import db
    from recodb.data.dataset import Dataset
    from recodb.data.load import Loaded

from recodb.cli.common import Seed, console, migrated_database, progress
from recodb.data.topics import TOPICS
from recodb.errors import RecodbError

app = typer.Typer()

Users = Annotated[int, typer.Option("--users", min=2, help="Number of users.")]
Posts = Annotated[int, typer.Option("--posts", min=1, help="Number of posts.")]
Interactions = Annotated[
    int, typer.Option("--interactions", min=0, help="Number of interaction rows.")
]
Topics = Annotated[
    int, typer.Option("--topics", min=1, max=len(TOPICS), help="Number of planted topics.")
]
Days = Annotated[int, typer.Option("--days", min=1, help="Interactions span the last N days.")]


def generate_with_progress(
    users: int, posts: int, interactions: int, seed: int, topics: int = 20, days: int = 30
) -> Dataset:
    from recodb.data.generate import generate

    with progress("generating") as step:
        return generate(
            users, posts, interactions, seed=seed, topics=topics, days=days,
            progress=lambda what: step(f"generating {what}"),
        )  # fmt: skip


def load_with_progress(target: db.Database, ds: Dataset, *, replace: bool) -> Loaded:
    """`recodb.data.load.load`, with a bar per table."""
    from recodb.data import load as loading

    totals = {"users": ds.n_users, "posts": ds.n_posts, "follows": len(ds.follow_src),
              "user_interaction": ds.n_interactions}  # fmt: skip
    with target.connect() as conn, progress("loading") as step:
        return loading.load(
            conn, ds, replace=replace, on_step=step,
            on_rows=lambda table, k: step.advance(f"copy {table}", k, totals[table]),
        )  # fmt: skip


@app.command("generate")
def generate_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write (.npz).")],
    users: Users = 1000,
    posts: Posts = 10_000,
    interactions: Interactions = 100_000,
    seed: Seed = 42,
    topics: Topics = 20,
    days: Days = 30,
) -> None:
    """Generate fake feed data with planted structure into a file (load it with `seed`)."""
    from recodb.data.dataset import check_output

    started = time.perf_counter()
    check_output(output)  # before spending time on generation
    ds = generate_with_progress(users, posts, interactions, seed, topics, days)
    ds.save(output)
    console.print(
        f"wrote {output}: {ds.n_users:,} users, {ds.n_posts:,} posts, "
        f"{len(ds.follow_src):,} follows, {ds.n_interactions:,} interactions "
        f"({time.perf_counter() - started:.1f} s)"
    )


@app.command("seed")
def seed_command(
    users: Users = 1000,
    posts: Posts = 10_000,
    interactions: Interactions = 100_000,
    seed: Seed = 42,
    topics: Topics = 20,
    days: Days = 30,
    input: Annotated[
        Path | None,
        typer.Option("--input", "-i", help="Load this file from `generate` instead."),
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Delete the existing data and load in its place.")
    ] = False,
    shift_to_now: Annotated[
        bool, typer.Option("--shift-to-now", help="With --input: move timestamps to end now.")
    ] = False,
) -> None:
    """Load generated data into the database, in one transaction, with binary COPY."""
    from recodb.data import load as loading
    from recodb.data.dataset import Dataset

    started = time.perf_counter()
    if input is not None:  # a bad file is reported before the database is touched
        ds = Dataset.load(input)
        if shift_to_now:
            loading.shift_to_now(ds)
    target = migrated_database()
    if input is None:
        with target.connect() as conn:
            found = loading.existing_rows(conn)
        if found and not replace:  # say so before spending time on generation
            raise RecodbError(loading.already_seeded_message(found))
        ds = generate_with_progress(users, posts, interactions, seed, topics, days)
    loaded = load_with_progress(target, ds, replace=replace)
    summary = ", ".join(f"{n:,} {t}" for t, n in loaded.rows.items())
    console.print(f"seeded {summary} in {time.perf_counter() - started:.1f} s")
    if loaded.models_removed:
        console.print(
            f"removed {loaded.models_removed} model version(s) trained on the old data: "
            "run recodb train"
        )


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="Interaction log to import.")],
    format: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="movielens (u.data, ratings.dat, ratings.csv) or csv "
            "(header: user_id, item_id, rating or interaction_type, timestamp).",
        ),
    ] = "movielens",
) -> None:
    """Import real interactions; source ids are kept in users/posts.external_id."""
    from recodb.data import importer

    if format not in importer.FORMATS:
        raise RecodbError(f"--format must be one of {', '.join(importer.FORMATS)}, got {format!r}")
    started = time.perf_counter()
    try:
        log = importer.parse(file, format)
    except importer.ImportFileError as exc:
        raise importer.ImportFileError(
            exc.path, exc.line, f"{exc.reason}; nothing was imported"
        ) from exc
    target = migrated_database()
    with target.connect() as conn, progress(f"import {file.name}") as step:
        counts = importer.load(
            conn, log, source=format, on_rows=lambda k: step.advance("rows", k, len(log))
        )
    summary = ", ".join(f"{n:,} {t}" for t, n in counts.items())
    console.print(
        f"read {len(log):,} lines; added {summary} ({time.perf_counter() - started:.1f} s)"
    )
