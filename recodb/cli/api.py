"""`recodb serve`: the HTTP API (Litestar on uvicorn) over the database in use."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from psycopg import sql
from psycopg.conninfo import make_conninfo
from rich.table import Table

from recodb import db
from recodb.cli.common import console, migrated_database, progress
from recodb.config import Settings
from recodb.errors import RecodbError

app = typer.Typer()

# The embedded server trusts local connections: the app connects as this role, which may only
# execute the public functions (a member of recodb_tracker), never read a table.
EMBEDDED_APP_ROLE = "recodb_api"

Host = Annotated[str, typer.Option(help="Address to listen on.")]
Port = Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")]
Workers = Annotated[int, typer.Option(min=1, help="uvicorn worker processes.")]


def app_database_url(target: db.Database) -> str:
    """The URL the app connects with: DATABASE_URL as given (its role is the operator's
    choice); on the embedded server, a login role that is only a member of recodb_tracker."""
    if not target.embedded:
        return target.url
    with target.connect(autocommit=True) as conn:
        exists = conn.execute(
            "select from pg_roles where rolname = %s", (EMBEDDED_APP_ROLE,)
        ).fetchone()
        if exists is None:
            conn.execute(
                sql.SQL("create role {} login in role recodb_tracker").format(
                    sql.Identifier(EMBEDDED_APP_ROLE)
                )
            )
    return make_conninfo(target.url, user=EMBEDDED_APP_ROLE)


def run_server(url: str, host: str, port: int, workers: int) -> None:
    """Serve until interrupted; workers read their settings (and this URL) from the
    environment."""
    import uvicorn

    from api.logs import uvicorn_log_config
    from api.settings import ApiSettings

    try:
        settings = ApiSettings(database_url=url)
    except ValueError as exc:  # a bad RECODB_* variable: say so before starting workers
        raise RecodbError(str(exc)) from exc
    os.environ["DATABASE_URL"] = url
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=uvicorn_log_config(settings.log_level),
        access_log=False,  # the app logs each request itself (RECODB_ACCESS_LOG)
    )


@app.command("serve")
def serve_command(host: Host = "127.0.0.1", port: Port = 8000, workers: Workers = 1) -> None:
    """Serve the HTTP API: feeds, tracking, similar and trending posts, health, metrics."""
    target = migrated_database()
    url = app_database_url(target)
    console.print(
        f"serving http://{host}:{port} (OpenAPI at /schema, {workers} worker(s)) "
        f"over {db.redact(url)}",
        highlight=False,
    )
    run_server(url, host, port, workers)


def bench_http(target: db.Database, seed: int, json_path: Path | None) -> None:
    """`recodb bench --http`: wrk against the API, 1 and 2 workers, as a table and JSON."""
    from recodb.evaluation import http_bench

    with progress("bench --http") as step:
        report = http_bench.run(target, app_database_url(target), seed=seed, on_step=step)
    scale = report["scale"]
    table = Table(
        title=f"HTTP, {scale['users']:,} users × {scale['posts']:,} posts × "
        f"{scale['interactions']:,} interactions, model v{report['model_version']}: "
        f"{report['load_generator']}, {report['connections']} connections, "
        f"{report['seconds']:g} s each, {report['cpus']} CPUs",
        title_justify="left",
    )
    columns = ("workers", "scenario", "req/s", "p50 ms", "p99 ms", "errors",
               "wrk CPU", "app CPU", "busy")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for r in report["runs"]:
        table.add_row(
            str(r["workers"]), r["scenario"], f"{r['rps']:,.0f}",
            f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}",
            str(sum(r["errors"].values())), f"{r['wrk_cpu_cores']:.2f}",
            f"{r['server_cpu_cores']:.2f}", f"{r['machine_busy']:.0%}",
        )  # fmt: skip
    console.print(table)
    console.print(
        "wrk CPU and app CPU (uvicorn's processes) are cores in use, 1.00 = one core for the "
        "whole run; busy = the whole machine's CPU use, the database included."
    )
    if json_path is None:
        json_path = (
            Settings().home / "reports" / f"bench-http-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
        )
        json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2))
    console.print(f"report {json_path}")
