"""`recodb doctor`: check the live database and say how to fix what is wrong."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from recodb.cli.common import console, database

LEVEL_STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}


def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
) -> None:
    """Check the database (roles, grants, indexes, model, views, settings); exit 1 on errors."""
    from recodb import doctor as checks

    with database().connect(autocommit=True) as conn:
        findings = checks.run(conn)
    errors = sum(f.level == "error" for f in findings)
    if as_json:
        print(json.dumps({"findings": [f.to_dict() for f in findings], "errors": errors}, indent=2))
    elif not findings:
        console.print("no problems found")
    else:
        table = Table(title="recodb doctor", show_lines=True)
        table.add_column("level", no_wrap=True)
        table.add_column("check", no_wrap=True)
        table.add_column("finding")
        table.add_column("fix")
        for f in findings:
            style = LEVEL_STYLE[f.level]
            table.add_row(f"[{style}]{f.level}[/]", f.check, f.message, f.fix)
        console.print(table, highlight=False)
        warnings = sum(f.level == "warning" for f in findings)
        console.print(f"{errors} errors, {warnings} warnings", highlight=False)
    if errors:
        raise typer.Exit(1)
