"""The `recodb` command line: one module per command group, assembled here.

Every error a user can fix is a `RecodbError`: `main()` prints it on one line and exits with 2.
"""

from __future__ import annotations

import sys

import typer

from recodb.cli import api, data, database, demo, doctor, models, serving, settings
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
for group in (data.app, models.app, serving.app, api.app, demo.app):
    app.registered_commands += group.registered_commands
app.add_typer(models.models, name="models")
app.add_typer(settings.app, name="settings")
app.command("doctor")(doctor.doctor)


def main() -> None:
    try:
        app()
    except RecodbError as exc:
        # One line, however long: scripts and tests read it (soft_wrap: rich does not fold it).
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
