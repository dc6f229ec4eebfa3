"""`recodb db …` and `recodb migrate`: which database, whether it runs, its schema."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from psycopg.conninfo import conninfo_to_dict
from rich.table import Table

from recodb import db, embedded, schema
from recodb.cli.common import console, database
from recodb.config import Settings
from recodb.errors import RecodbError

app = typer.Typer(help="The database recodb uses (DATABASE_URL or the embedded server).")


@app.command("url")
def db_url(
    show_password: Annotated[
        bool, typer.Option("--show-password", help="Print the password of DATABASE_URL too.")
    ] = False,
) -> None:
    """Print the connection URL in use (starts the embedded server when needed); the
    password of DATABASE_URL shows as *** unless --show-password."""
    url = database().url
    if not show_password and conninfo_to_dict(url).get("password"):
        url = db.redact(url)
    print(url)


@app.command("status")
def db_status() -> None:
    """Say which database is in use, whether it runs, and its schema revision."""
    settings = Settings()
    table = Table(show_header=False, box=None)
    if settings.database_url:
        table.add_row("source", "DATABASE_URL")
        table.add_row("url", db.redact(settings.database_url))
    else:
        state = embedded.status(settings.pgdata)
        table.add_row("source", "embedded PostgreSQL (DATABASE_URL is unset)")
        table.add_row("data folder", str(settings.pgdata))
        table.add_row(
            "running", f"yes, pid {state.pid}, since {state.started_at}" if state.running else "no"
        )
        if not state.running:
            console.print(table)
            return
    target = database()
    with target.connect() as conn:
        table.add_row("server", conn.execute("show server_version").fetchone()[0])
        try:
            table.add_row("pgvector", db.require_pgvector(conn))
        except db.DatabaseError:
            table.add_row("pgvector", "[red]not available[/]")
        revision = schema.current_revision(conn)
        table.add_row("schema revision", revision or "none (run recodb migrate)")
        table.add_row("head revision", schema.head_revision())
        if revision == schema.head_revision():
            active = conn.execute(
                "select version from recodb.model where status = 'active'"
            ).fetchone()
            active = active[0] if active else None
            table.add_row("active model", f"version {active}" if active else "none (recodb train)")
    console.print(table)


@app.command("stop")
def db_stop() -> None:
    """Stop the embedded server (its data stays in the data folder)."""
    settings = Settings()
    if settings.database_url:
        raise RecodbError("DATABASE_URL is set: recodb does not manage that server")
    stopped = embedded.stop(settings.pgdata)
    console.print("stopped" if stopped else "the embedded server was not running")


def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Upgrade the schema (the same as `alembic upgrade head`)."""
    target = database()
    started = time.perf_counter()
    schema.upgrade(target.url, revision)
    with target.connect() as conn:
        current = schema.current_revision(conn)
    console.print(f"schema at revision {current} ({time.perf_counter() - started:.2f} s)")
