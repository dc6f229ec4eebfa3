"""What every command group shares: the consoles, the database in use, progress, options."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from recodb import db, schema
from recodb.config import Settings
from recodb.errors import RecodbError

console = Console()
err = Console(stderr=True)


def database() -> db.Database:
    return db.resolve(Settings())


def migrated_database() -> db.Database:
    """The database, at the head revision. The embedded one is upgraded on the fly; a
    DATABASE_URL one must be upgraded by its operator (`recodb migrate`)."""
    target = database()
    with target.connect() as conn:
        db.require_pgvector(conn)
        current = schema.current_revision(conn)
    if current == schema.head_revision():
        return target
    if not target.embedded:
        raise RecodbError(
            f"the database is at revision {current or 'none'}, not {schema.head_revision()}: "
            "run `recodb migrate` (or `alembic upgrade head`) first"
        )
    err.print(f"[dim]upgrading the embedded database to {schema.head_revision()}…[/]")
    schema.upgrade(target.url)
    return target


class Steps:
    """A running task on stderr: call it with what is happening now; `note` prints a line that
    stays; `advance` counts rows of a named part (a bar of its own, with a total if known)."""

    def __init__(self, bar: Progress, task: TaskID) -> None:
        self._bar, self._task = bar, task
        self._parts: dict[str, TaskID] = {}

    def __call__(self, what: str) -> None:
        self._bar.update(self._task, description=what)

    def note(self, line: str) -> None:
        self._bar.console.print(line, highlight=False)

    def advance(self, part: str, k: int, total: int | None = None) -> None:
        if part not in self._parts:
            self._parts[part] = self._bar.add_task(part, total=total)
        self._bar.advance(self._parts[part], k)


@contextmanager
def progress(description: str) -> Iterator[Steps]:
    """Show progress while the block runs; it disappears when done."""
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    with bar:
        yield Steps(bar, bar.add_task(description, total=None))


def parse_time(value: str | None, option: str) -> datetime | None:
    """An ISO 8601 date or time from a flag (UTC unless it says otherwise)."""
    from recodb.data.importer import parse_time as parse

    if value is None:
        return None
    try:
        return parse(value)
    except (ValueError, OverflowError, OSError) as exc:
        raise RecodbError(
            f"{option}: expected an ISO 8601 date or time or Unix seconds, got {value!r}"
        ) from exc


Seed = Annotated[int, typer.Option("--seed", help="Random seed: the same seed, the same data.")]
