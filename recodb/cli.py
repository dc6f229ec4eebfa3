"""The `recodb` command line."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from recodb import db, embedded, generate, importer, registry, schema
from recodb import seed as seeding
from recodb.config import Settings
from recodb.topics import TOPICS

app = typer.Typer(
    help="recodb: a Postgres-native recommender for social feeds.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
db_app = typer.Typer(help="The database recodb uses (DATABASE_URL or the embedded server).")
app.add_typer(db_app, name="db")
models_app = typer.Typer(help="The model registry: list, activate, roll back, prune.")
app.add_typer(models_app, name="models")

console = Console()
err = Console(stderr=True)


class UserError(Exception):
    """An error the user can fix; printed as one message, exit status 2."""


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
        raise UserError(
            f"the database is at revision {current or 'none'}, not {schema.head_revision()}: "
            "run `recodb migrate` (or `alembic upgrade head`) first"
        )
    err.print(f"[dim]upgrading the embedded database to {schema.head_revision()}…[/]")
    schema.upgrade(target.url)
    return target


# -- db -------------------------------------------------------------------------------------


@db_app.command("url")
def db_url() -> None:
    """Print the connection URL in use (starts the embedded server when needed)."""
    print(database().url)


@db_app.command("status")
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
            active = registry.active_version(conn)
            table.add_row("active model", f"version {active}" if active else "none (recodb train)")
    console.print(table)


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded server (its data stays in the data folder)."""
    settings = Settings()
    if settings.database_url:
        raise UserError("DATABASE_URL is set: recodb does not manage that server")
    stopped = embedded.stop(settings.pgdata)
    console.print("stopped" if stopped else "the embedded server was not running")


# -- schema ---------------------------------------------------------------------------------


@app.command("migrate")
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


# -- data -----------------------------------------------------------------------------------

Users = Annotated[int, typer.Option("--users", min=2, help="Number of users.")]
Posts = Annotated[int, typer.Option("--posts", min=1, help="Number of posts.")]
Interactions = Annotated[
    int, typer.Option("--interactions", min=0, help="Number of interaction rows.")
]
Seed = Annotated[int, typer.Option("--seed", help="Random seed: the same seed, the same data.")]
Topics = Annotated[
    int, typer.Option("--topics", min=1, max=len(TOPICS), help="Number of planted topics.")
]
Days = Annotated[int, typer.Option("--days", min=1, help="Interactions span the last N days.")]


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def _generate(users, posts, interactions, seed, topics, days) -> generate.Dataset:
    with _progress() as progress:
        task = progress.add_task("generating", total=None)
        return generate.generate(
            users,
            posts,
            interactions,
            seed=seed,
            topics=topics,
            days=days,
            progress=lambda what: progress.update(task, description=f"generating {what}"),
        )


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
    started = time.perf_counter()
    ds = _generate(users, posts, interactions, seed, topics, days)
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
        typer.Option("--input", "-i", help="Load this file from `generate` instead.", exists=True),
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Delete the existing data and load in its place.")
    ] = False,
    shift_to_now: Annotated[
        bool, typer.Option("--shift-to-now", help="With --input: move timestamps to end now.")
    ] = False,
) -> None:
    """Load generated data into the database, in one transaction, with binary COPY."""
    started = time.perf_counter()
    target = migrated_database()
    if input is not None:
        try:
            ds = generate.Dataset.load(input)
        except ValueError as exc:
            raise UserError(str(exc)) from exc
        if shift_to_now:
            seeding.shift_to_now(ds)
    else:
        with target.connect() as conn:
            found = seeding.existing_rows(conn)
        if found and not replace:  # say so before spending time on generation
            raise UserError(seeding.already_seeded_message(found))
        ds = _generate(users, posts, interactions, seed, topics, days)
    with target.connect() as conn, _progress() as progress:
        tasks: dict[str, int] = {}
        step = progress.add_task("loading", total=None)

        def on_rows(table: str, k: int) -> None:
            if table not in tasks:
                total = {"users": ds.n_users, "posts": ds.n_posts}.get(table)
                total = total or {"follows": len(ds.follow_src)}.get(table, ds.n_interactions)
                tasks[table] = progress.add_task(f"copy {table}", total=total)
            progress.advance(tasks[table], k)

        try:
            loaded = seeding.load(
                conn,
                ds,
                replace=replace,
                on_step=lambda what: progress.update(step, description=what),
                on_rows=on_rows,
            )
        except seeding.AlreadySeeded as exc:
            raise UserError(str(exc)) from exc
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
    if format not in importer.FORMATS:
        raise UserError(f"--format must be one of {', '.join(importer.FORMATS)}, got {format!r}")
    started = time.perf_counter()
    try:
        log = importer.parse(file, format)
    except importer.ImportFileError as exc:
        raise UserError(f"{exc}; nothing was imported") from exc
    target = migrated_database()
    with target.connect() as conn, _progress() as progress:
        task = progress.add_task(f"import {file.name}", total=len(log))
        counts = importer.load(
            conn, log, source=format, on_rows=lambda k: progress.advance(task, k)
        )
    summary = ", ".join(f"{n:,} {t}" for t, n in counts.items())
    console.print(
        f"read {len(log):,} lines; added {summary} ({time.perf_counter() - started:.1f} s)"
    )


# -- training and the registry ------------------------------------------------------------


def _parse_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise UserError(f"{option}: expected an ISO 8601 date or time, got {value!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command("train")
def train_command(
    algorithm: Annotated[str, typer.Option(help="als (default) or bpr.")] = "als",
    factors: Annotated[int | None, typer.Option(min=1, help="Vector dimensions.")] = None,
    regularization: Annotated[float | None, typer.Option(min=0)] = None,
    alpha: Annotated[float | None, typer.Option(min=0, help="ALS confidence scale.")] = None,
    iterations: Annotated[int | None, typer.Option(min=1)] = None,
    learning_rate: Annotated[float | None, typer.Option(min=0, help="BPR only.")] = None,
    content_dims: Annotated[
        int | None, typer.Option(min=0, help="Dimensions of the text vectors (0: none).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed: same data and seed, same model.")] = 42,
    tune: Annotated[
        bool, typer.Option("--tune", help="Search hyperparameters on a held-out time split.")
    ] = False,
    trials: Annotated[int, typer.Option(min=2, help="Parameter sets tried by --tune.")] = 16,
    validate: Annotated[
        bool, typer.Option(help="Score the parameters on a held-out time split first.")
    ] = True,
    activate: Annotated[bool, typer.Option(help="Activate the new version when done.")] = True,
    since: Annotated[str | None, typer.Option(help="Train on interactions from this time.")] = None,
    until: Annotated[str | None, typer.Option(help="…and before this time.")] = None,
) -> None:
    """Train user and post vectors into a new model version, index them, and activate it."""
    from recodb.train import Params, train

    given = {
        "factors": factors,
        "regularization": regularization,
        "alpha": alpha,
        "iterations": iterations,
        "learning_rate": learning_rate,
        "content_dims": content_dims,
    }
    try:
        params = Params(
            algorithm=algorithm, seed=seed, **{k: v for k, v in given.items() if v is not None}
        )
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    target = migrated_database()
    with target.connect(autocommit=True) as conn, _progress() as progress:
        task = progress.add_task("training", total=None)

        def on_step(what: str) -> None:
            if what.startswith("trial "):
                progress.console.print(f"  {what}", highlight=False)
            progress.update(task, description=what)

        try:
            result = train(
                conn,
                params,
                since=_parse_time(since, "--since"),
                until=_parse_time(until, "--until"),
                tune_trials=trials if tune else 0,
                validate=validate,
                activate=activate,
                on_step=on_step,
            )
        except registry.RegistryError as exc:
            raise UserError(str(exc)) from exc
    table = Table(title=f"model version {result.version}", show_header=True)
    table.add_column("step")
    table.add_column("seconds", justify="right")
    for name, seconds in result.timings.items():
        if name != "peak_rss_mb":
            table.add_row(name, f"{seconds:.2f}")
    console.print(table)
    shown = {k: v for k, v in result.metrics.items() if "@" in k}
    if shown:
        console.print("validation: " + ", ".join(f"{k} {v:.4f}" for k, v in shown.items()))
    console.print(
        f"version {result.version} {'active' if result.activated else 'ready'}; "
        f"peak memory {result.timings.get('peak_rss_mb')} MB"
    )


@models_app.command("list")
def models_list() -> None:
    """The registered model versions, newest first."""
    target = migrated_database()
    with target.connect() as conn:
        rows = registry.list_versions(conn)
    if not rows:
        console.print("no models yet: run `recodb train`")
        return
    short = {"factors": "f", "regularization": "λ", "alpha": "α", "iterations": "it",
             "learning_rate": "lr"}  # fmt: skip
    table = Table()
    for column in ("version", "status", "model", "trained on", "ndcg@10", "created", "s"):
        table.add_column(
            column, justify="right" if column in ("version", "ndcg@10", "s") else "left"
        )
    for r in rows:
        model = (
            r["algorithm"]
            + " "
            + " ".join(f"{short[k]}{v:g}" for k, v in r["params"].items() if k in short)
        )
        data = (
            f"{r['n_users']:,}×{r['n_posts']:,}, {r['n_interactions']:,}"
            if r["n_users"] is not None
            else (r["error"] or "")[:40]
        )
        ndcg = r["metrics"].get("ndcg@10")
        table.add_row(
            str(r["version"]),
            ("[bold green]active[/]" if r["status"] == "active" else r["status"])
            + (" (tuned)" if r["tuned"] else ""),
            model,
            data,
            f"{ndcg:.4f}" if ndcg is not None else "",
            r["created_at"].strftime("%m-%d %H:%M"),
            f"{r['timings']['total']:.0f}" if "total" in r["timings"] else "",
        )
    console.print(table)


@models_app.command("activate")
def models_activate(version: Annotated[int, typer.Argument(help="Version to activate.")]) -> None:
    """Make VERSION the active model, atomically (readers never see a mixture)."""
    target = migrated_database()
    with target.connect(autocommit=True) as conn:
        try:
            registry.activate(conn, version)
        except registry.RegistryError as exc:
            raise UserError(str(exc)) from exc
    console.print(f"version {version} is active")


@models_app.command("rollback")
def models_rollback() -> None:
    """Re-activate the version that was active before the current one."""
    target = migrated_database()
    with target.connect(autocommit=True) as conn:
        try:
            version = registry.rollback(conn)
        except registry.RegistryError as exc:
            raise UserError(str(exc)) from exc
    console.print(f"rolled back: version {version} is active")


@models_app.command("prune")
def models_prune(
    keep: Annotated[
        int | None, typer.Option(min=0, help="Inactive versions to keep (default: setting).")
    ] = None,
) -> None:
    """Drop old versions' vectors beyond the newest KEEP inactive ones."""
    target = migrated_database()
    with target.connect(autocommit=True) as conn:
        removed = registry.prune(conn, keep)
    console.print(f"removed versions {removed}" if removed else "nothing to prune")


# -- serving --------------------------------------------------------------------------------


@app.command("refresh")
def refresh_command(
    every: Annotated[
        float | None,
        typer.Option(min=1, help="Refresh in a loop every SECONDS (a cron of its own)."),
    ] = None,
    pg_cron: Annotated[
        bool, typer.Option("--pg-cron", help="Schedule the refresh in the database with pg_cron.")
    ] = False,
) -> None:
    """Refresh the engagement views concurrently and delete expired feed slates."""
    target = migrated_database()
    if pg_cron:
        _schedule_pg_cron(target, every or 60)
        return
    while True:
        started = time.perf_counter()
        with target.connect(autocommit=True) as conn:
            steps = conn.execute("select step, seconds from recodb.refresh()").fetchall()
        took = time.perf_counter() - started
        console.print(
            f"refreshed in {took:.2f} s: " + ", ".join(f"{s} {sec:.2f} s" for s, sec in steps),
            highlight=False,
        )
        if every is None:
            return
        time.sleep(max(0.0, every - took))


def _schedule_pg_cron(target: db.Database, every: float) -> None:
    with target.connect(autocommit=True) as conn:
        available = conn.execute(
            "select installed_version from pg_available_extensions where name = 'pg_cron'"
        ).fetchone()
        if available is None:
            raise UserError(
                "pg_cron is not available on this server (the embedded PostgreSQL does not ship "
                "it): use `recodb refresh --every SECONDS`, or cron running `recodb refresh`"
            )
        if available[0] is None:
            raise UserError(
                "pg_cron is available but not installed in this database: add it to "
                "shared_preload_libraries and run `create extension pg_cron`"
            )
        # pg_cron takes "N seconds" (1-59) or a cron expression in minutes.
        schedule = (
            f"{int(every)} seconds" if every < 60 else f"*/{max(1, round(every / 60))} * * * *"
        )
        job = conn.execute(
            "select cron.schedule('recodb-refresh', %s, 'select recodb.refresh()')", (schedule,)
        ).fetchone()[0]
    console.print(f"scheduled pg_cron job {job} 'recodb-refresh' ({schedule})")


@app.command("evaluate")
def evaluate_command(
    test_days: Annotated[
        float, typer.Option(min=0.01, help="Hold out the last N days of interactions.")
    ] = 2.0,
    train_file: Annotated[
        Path | None, typer.Option("--train", exists=True, help="Training log (with --test).")
    ] = None,
    test_file: Annotated[
        Path | None, typer.Option("--test", exists=True, help="Test log (with --train).")
    ] = None,
    format: Annotated[str, typer.Option("--format", help="Of --train/--test.")] = "movielens",
    k: Annotated[str, typer.Option(help="Cut-offs, comma-separated.")] = "5,10,20",
    users: Annotated[int, typer.Option(min=1, help="Test users scored at most.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed (user sample, random baseline).")] = 42,
    output: Annotated[
        Path | None, typer.Option(help="Folder for the chart and JSON (default .recodb/reports).")
    ] = None,
    keep_scratch: Annotated[bool, typer.Option(help="Keep the scratch database.")] = False,
    tune_blend: Annotated[
        bool,
        typer.Option("--tune-blend", help="Also try other blend weights and recency half-lives."),
    ] = False,
    apply: Annotated[
        bool, typer.Option("--apply", help="With --tune-blend: store the best in the settings.")
    ] = False,
) -> None:
    """Score the served feed (Precision, Recall, NDCG, MAP @K, coverage) against baselines."""
    from recodb import evaluate

    try:
        ks = tuple(sorted({int(x) for x in k.split(",") if x.strip()}))
    except ValueError as exc:
        raise UserError(f"--k: expected comma-separated whole numbers, got {k!r}") from exc
    if not ks or min(ks) < 1:
        raise UserError(f"--k: expected cut-offs >= 1, got {k!r}")
    if (train_file is None) != (test_file is None):
        raise UserError("--train and --test go together")
    target = migrated_database()
    with _progress() as progress:
        task = progress.add_task("evaluating", total=None)

        def on_step(what: str) -> None:
            progress.update(task, description=what)

        try:
            if train_file is not None:
                if format not in importer.FORMATS:
                    raise UserError(f"--format must be one of {', '.join(importer.FORMATS)}")
                report = evaluate.evaluate_files(
                    target, train_file, test_file, format, ks=ks, max_users=users, seed=seed,
                    keep_scratch=keep_scratch, tune_blend=tune_blend, on_step=on_step,
                )  # fmt: skip
            else:
                report = evaluate.evaluate(
                    target, test_days=test_days, ks=ks, max_users=users, seed=seed,
                    keep_scratch=keep_scratch, tune_blend=tune_blend, on_step=on_step,
                )  # fmt: skip
        except importer.ImportFileError as exc:
            raise UserError(str(exc)) from exc
        except registry.RegistryError as exc:
            raise UserError(str(exc)) from exc

    mid = 10 if 10 in ks else ks[len(ks) // 2]
    table = Table(
        title=f"{report.users} test users, split at {report.split_at:%Y-%m-%d %H:%M}, "
        f"{report.catalogue:,} posts"
    )
    columns = [f"{m}@{mid}" for m in ("precision", "recall", "ndcg", "map")]
    columns += [f"ndcg@{kk}" for kk in ks if kk != mid] + ["coverage@10"]
    table.add_column("method")
    for column in columns:
        table.add_column(column.replace("precision", "P").replace("recall", "R"), justify="right")
    for method, values in report.metrics.items():
        table.add_row(method, *(f"{values[c]:.4f}" for c in columns))
    console.print(table)
    ours = report.metrics["recodb"][f"ndcg@{mid}"]
    for method in ("most popular", "user-KNN", "oracle"):
        if method in report.metrics and report.metrics[method][f"ndcg@{mid}"] > 0:
            ratio = ours / report.metrics[method][f"ndcg@{mid}"]
            console.print(f"recodb NDCG@{mid} / {method}: {ratio:.2f}")
    if report.blend_search:
        blends = Table(title=f"blend search (NDCG@{mid}, best first)")
        for column in ("collaborative", "content", "recency", "half-life h", f"ndcg@{mid}"):
            blends.add_column(column, justify="right")
        for r in report.blend_search[:8]:
            w = r["blend_weights"]
            blends.add_row(
                f"{w['collaborative']:.1f}", f"{w['content']:.1f}", f"{w['recency']:.1f}",
                str(r["recency_half_life_hours"]), f"{r['metrics'][f'ndcg@{mid}']:.4f}",
            )  # fmt: skip
        console.print(blends)
        if apply:
            evaluate.apply_blend(target, report.blend_search[0])
            console.print("applied the best blend to the settings")
    folder = output or Settings().home / "reports"
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    chart_path = evaluate.chart(report, folder / f"evaluate-{stamp}.png")
    json_path = folder / f"evaluate-{stamp}.json"
    json_path.write_text(json.dumps(report.to_json(), indent=2))
    version = evaluate.store(target, report)
    console.print(f"chart {chart_path}\nreport {json_path}")
    if report.scratch_url:
        console.print(f"scratch database kept: {db.redact(report.scratch_url)}")
    if version is not None:
        console.print(f"stored on model version {version}")


@app.command("bench")
def bench_command(
    users: Annotated[int | None, typer.Option(min=2, help="Seed this many users first.")] = None,
    posts: Annotated[int | None, typer.Option(min=1, help="…and posts.")] = None,
    interactions: Annotated[int | None, typer.Option(min=0, help="…and interactions.")] = None,
    queries: Annotated[int, typer.Option(min=10, help="Users (and posts) measured.")] = 1000,
    seed: Seed = 42,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write the report here.")
    ] = None,
) -> None:
    """Measure serving: recommend (fresh and stored slate), similar_posts, refresh, ANN recall.

    With --users/--posts/--interactions it first seeds that scale (replacing the data!) and
    trains; otherwise it measures the current data and active model.
    """
    from recodb import bench
    from recodb.train import Params, train

    target = migrated_database()
    if any(v is not None for v in (users, posts, interactions)):
        if None in (users, posts, interactions):
            raise UserError("--users, --posts and --interactions go together")
        ds = _generate(users, posts, interactions, seed, 20, 30)
        with target.connect() as conn, _progress() as progress:
            task = progress.add_task("seeding", total=None)
            seeding.load(
                conn, ds, replace=True, on_step=lambda s: progress.update(task, description=s)
            )
        with target.connect(autocommit=True) as conn, _progress() as progress:
            task = progress.add_task("training", total=None)
            train(conn, Params(seed=seed), validate=False,
                  on_step=lambda s: progress.update(task, description=s))  # fmt: skip
    with _progress() as progress:
        task = progress.add_task("bench", total=None)
        try:
            report = bench.run(
                target, queries=queries, seed=seed,
                on_step=lambda s: progress.update(task, description=s),
            )  # fmt: skip
        except registry.RegistryError as exc:
            raise UserError(str(exc)) from exc
    scale = report["scale"]
    table = Table(
        title=f"{scale['users']:,} users × {scale['posts']:,} posts × "
        f"{scale['interactions']:,} interactions, model v{report['model_version']}"
    )
    for column in ("measure", "n", "p50 ms", "p95 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    for name in (
        "recommend_fresh",
        "recommend_stored_slate",
        "similar_posts",
        "recommend_during_refresh",
    ):
        r = report[name]
        table.add_row(
            name.replace("_", " "),
            str(r["n"]),
            *(f"{r[c]:.2f}" for c in ("p50_ms", "p95_ms", "p99_ms", "max_ms")),
        )
    console.print(table)
    console.print(
        f"refresh: median {report['refresh_seconds']['median']:.2f} s; "
        f"errors while refreshing: {report['recommend_during_refresh']['errors']}; "
        f"ANN recall@50 vs exact: {report['ann_recall_at_50']:.4f}"
    )
    if json_path is None:
        json_path = Settings().home / "reports" / f"bench-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
        json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2))
    console.print(f"report {json_path}")


def main() -> None:
    try:
        app()
    except (UserError, db.DatabaseError) as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
