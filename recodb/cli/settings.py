"""`recodb settings …`: list, set and reset what operators tune (table recodb.setting)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from recodb import settings as store
from recodb.cli.common import console, migrated_database

app = typer.Typer(
    help="What operators tune: list (the default), set KEY VALUE, reset KEY.",
    invoke_without_command=True,
)


@app.callback()
def settings_default(ctx: typer.Context) -> None:
    """What operators tune: list (the default), set KEY VALUE, reset KEY."""
    if ctx.invoked_subcommand is None:
        list_settings()


@app.command("list")
def list_settings(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print the README's table instead.")
    ] = False,
) -> None:
    """List every setting with its value, default, bounds and meaning."""
    with migrated_database().connect() as conn:
        rows = store.read(conn)
    if markdown:
        print(store.markdown_table(rows), end="")
        return
    table = Table(title="recodb settings", show_lines=False)
    table.add_column("key", no_wrap=True)
    table.add_column("value")
    table.add_column("default")
    table.add_column("bounds")
    table.add_column("meaning")
    for s in rows:
        value = store.show(s.value)
        changed = s.value != s.default
        table.add_row(
            s.key,
            f"[bold yellow]{value}[/]" if changed else value,
            store.show(s.default),
            s.bounds,
            s.description,
        )
    console.print(table, highlight=False)


@app.command("set")
def set_setting(
    key: Annotated[str, typer.Argument(help="The setting, e.g. slate_size.")],
    value: Annotated[str, typer.Argument(help="JSON (200, 0.5, {...}); other text is a string.")],
) -> None:
    """Set a setting; the database checks it against the key's kind and bounds."""
    with migrated_database().connect() as conn:
        before, after = store.set_value(conn, key, store.parse_value(value))
    console.print(f"{key} = {store.show(after)} (was {store.show(before)})", highlight=False)


@app.command("reset")
def reset_setting(
    key: Annotated[str, typer.Argument(help="The setting to restore to its default.")],
) -> None:
    """Restore a setting's default."""
    with migrated_database().connect() as conn:
        before, after = store.reset(conn, key)
    console.print(f"{key} = {store.show(after)} (was {store.show(before)})", highlight=False)
