"""The `recodb` command line: one module per command group, assembled here.

Every error a user can fix is a `RecodbError`: `main()` prints it on one line and exits with 2.
"""

from __future__ import annotations

import sys

import typer

from recodb.cli import data, database, models, serving
from recodb.cli.common import err
from recodb.errors import RecodbError

app = typer.Typer(
    help="recodb: a Postgres-native recommender for social feeds.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
app.add_typer(database.app, name="db")
app.command("migrate")(database.migrate)
for group in (data.app, models.app, serving.app):
    app.registered_commands += group.registered_commands
app.add_typer(models.models, name="models")


def main() -> None:
    try:
        app()
    except RecodbError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
