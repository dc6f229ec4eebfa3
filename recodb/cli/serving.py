"""`recodb refresh`, `evaluate` and `bench`: keeping the engine fresh and measuring it."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from recodb import db
from recodb.cli.common import Seed, console, migrated_database, progress
from recodb.cli.data import generate_with_progress
from recodb.config import Settings
from recodb.errors import RecodbError

app = typer.Typer()


@app.command("refresh")
def refresh_command(
    every: Annotated[
        float | None,
        typer.Option(min=1, help="Refresh in a loop every SECONDS (a cron of its own)."),
    ] = None,
    pg_cron: Annotated[
        bool, typer.Option("--pg-cron", help="Schedule the refresh in the database with pg_cron.")
    ] = False,
    precompute_days: Annotated[
        float | None,
        typer.Option(
            "--precompute",
            min=0.01,
            help="After each refresh, precompute slates for users active in the last DAYS.",
        ),
    ] = None,
) -> None:
    """Refresh the engagement views concurrently, give new posts vectors, delete expired slates."""
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
        if precompute_days is not None:
            _precompute(target, precompute_days, jobs=2)
            took = time.perf_counter() - started
        if every is None:
            return
        time.sleep(max(0.0, every - took))


def _precompute(target: db.Database, active_days: float, jobs: int) -> None:
    from recodb.precompute import active_users, precompute

    started = time.perf_counter()
    with target.connect() as conn:
        total = active_users(conn, active_days)
    with progress(f"precompute ({jobs} connections)") as step:
        stored = precompute(
            target, active_days, jobs=jobs,
            on_users=lambda k: step.advance("users", k, total),
        )  # fmt: skip
    console.print(
        f"precomputed {stored:,} slates of {total:,} users active in the last {active_days:g} "
        f"days in {time.perf_counter() - started:.1f} s",
        highlight=False,
    )


@app.command("precompute")
def precompute_command(
    active_days: Annotated[
        float, typer.Option("--active-days", min=0.01, help="Users active in the last DAYS.")
    ] = 7,
    jobs: Annotated[int, typer.Option(min=1, max=32, help="Connections working at once.")] = 2,
) -> None:
    """Store slates for recently active users, so that their first page is a lookup too (on
    hot standbys as well: each slate is also copied to the replicated recodb.replica_slate)."""
    _precompute(migrated_database(), active_days, jobs)


def _schedule_pg_cron(target: db.Database, every: float) -> None:
    with target.connect(autocommit=True) as conn:
        available = conn.execute(
            "select installed_version from pg_available_extensions where name = 'pg_cron'"
        ).fetchone()
        if available is None:
            raise RecodbError(
                "pg_cron is not available on this server (the embedded PostgreSQL does not ship "
                "it): use `recodb refresh --every SECONDS`, or cron running `recodb refresh`"
            )
        if available[0] is None:
            raise RecodbError(
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
        bool,
        typer.Option("--apply", help="With --tune-blend: store the best in the settings, pinned."),
    ] = False,
    protocol: Annotated[
        str,
        typer.Option(
            "--protocol",
            help="Test split of the database's data: time (the last --test-days), user-latest "
            "(each user's latest posts) or random.",
        ),
    ] = "time",
    learn_blend: Annotated[
        bool, typer.Option(help="Learn the blend in the scratch training (else the seed's).")
    ] = True,
) -> None:
    """Score the served feed (Precision, Recall, NDCG, MAP @K, coverage) against baselines."""
    from recodb.evaluation import evaluate

    try:
        ks = tuple(sorted({int(x) for x in k.split(",") if x.strip()}))
    except ValueError as exc:
        raise RecodbError(f"--k: expected comma-separated whole numbers, got {k!r}") from exc
    if not ks or min(ks) < 1:
        raise RecodbError(f"--k: expected cut-offs >= 1, got {k!r}")
    if (train_file is None) != (test_file is None):
        raise RecodbError("--train and --test go together")
    if protocol not in ("time", "user-latest", "random"):
        raise RecodbError(f"--protocol must be time, user-latest or random, got {protocol!r}")
    target = migrated_database()
    from recodb.data import importer

    if train_file is not None and format not in importer.FORMATS:
        raise RecodbError(f"--format must be one of {', '.join(importer.FORMATS)}")
    with progress("evaluating") as step:
        options = evaluate.Options(
            ks=ks, max_users=users, seed=seed, keep_scratch=keep_scratch, tune_blend=tune_blend,
            protocol=protocol, learn_blend=learn_blend, on_step=step,
        )  # fmt: skip
        if train_file is not None:
            report = evaluate.evaluate_files(target, train_file, test_file, format, options=options)
        else:
            report = evaluate.evaluate(target, test_days=test_days, options=options)

    mid = 10 if 10 in ks else ks[len(ks) // 2]
    table = Table(
        title=f"{report.users} test users ({report.protocol}), split at "
        f"{report.split_at:%Y-%m-%d %H:%M}, {report.catalogue:,} posts",
        caption="± half the width of the 95 % bootstrap interval over users",
    )
    columns = [f"{m}@{mid}" for m in ("precision", "recall", "ndcg", "map")]
    columns += [f"ndcg@{kk}" for kk in ks if kk != mid] + ["coverage@10"]
    table.add_column("method")
    for column in columns:
        table.add_column(column.replace("precision", "P").replace("recall", "R"), justify="right")
    for method, values in report.metrics.items():
        low_high = report.intervals.get(method, {})
        table.add_row(
            method,
            *(
                f"{values[c]:.4f}"
                + (f" ±{(low_high[c][1] - low_high[c][0]) / 2:.4f}" if c in low_high else "")
                for c in columns
            ),
        )
    console.print(table)
    if report.blend:
        console.print(
            "learned blend: "
            + ", ".join(f"{k} {v:.3f}" for k, v in report.blend["weights"].items() if v > 0),
            highlight=False,
        )
    ours = report.metrics["recodb"][f"ndcg@{mid}"]
    for method in ("most popular", "trending", "collaborative only", "user-KNN", "oracle"):
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


def _latency_table(title: str, rows: list[tuple[str, dict]], labels: dict[str, str]) -> Table:
    """Latency percentiles, a row per measure (a bench report's summaries)."""
    table = Table(title=title)
    for column in ("measure", "n", "p50 ms", "p95 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    labels = {"slate_page_read": "page from recodb.slate"} | labels
    for name, r in rows:
        table.add_row(
            labels.get(name, name.replace("_", " ")),
            str(r["n"]),
            *(f"{r[c]:.2f}" for c in ("p50_ms", "p95_ms", "p99_ms", "max_ms")),
        )
    return table


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
    http: Annotated[
        bool, typer.Option("--http", help="Measure the HTTP API under wrk instead (see serve).")
    ] = False,
    clients: Annotated[
        int, typer.Option(min=0, help="Also fresh slates from N concurrent clients (pgbench).")
    ] = 0,
    seconds: Annotated[float, typer.Option(min=1, help="How long --clients runs.")] = 30,
    standby: Annotated[
        str | None,
        typer.Option(
            help="Also first pages on this hot standby (a URL): computed there, and read from "
            "slates precompute stored on the primary."
        ),
    ] = None,
) -> None:
    """Measure serving: recommend (fresh and stored slate), similar_posts, refresh, ANN recall.

    With --users/--posts/--interactions it first seeds that scale (replacing the data!) and
    trains; otherwise it measures the current data and active model.
    """
    from recodb.data.load import load
    from recodb.evaluation import bench
    from recodb.training.fit import Params
    from recodb.training.train import train

    target = migrated_database()
    if any(v is not None for v in (users, posts, interactions)):
        if None in (users, posts, interactions):
            raise RecodbError("--users, --posts and --interactions go together")
        ds = generate_with_progress(users, posts, interactions, seed)
        with target.connect() as conn, progress("seeding") as step:
            load(conn, ds, replace=True, on_step=step)
        with target.connect(autocommit=True) as conn, progress("training") as step:
            train(conn, Params(seed=seed), validate=False, on_step=step)
    if http:
        from recodb.cli.api import bench_http

        return bench_http(target, seed, json_path)
    with progress("bench") as step:
        report = bench.run(
            target, queries=queries, seed=seed, clients=clients, seconds=seconds,
            standby_url=standby, on_step=step,
        )  # fmt: skip
    scale = report["scale"]
    names = (
        "round_trip",
        "recommend_fresh",
        "recommend_stored_slate",
        "slate_page_read",
        "similar_posts",
        "recommend_during_refresh",
        "recommend_standby",
        "recommend_standby_stored",
        "recommend_concurrent",
    )
    console.print(
        _latency_table(
            f"{scale['users']:,} users × {scale['posts']:,} posts × "
            f"{scale['interactions']:,} interactions, model v{report['model_version']}",
            [(name, report[name]) for name in names if name in report],
            {"round_trip": "round trip (select $1)"},
        )
    )
    console.print(
        _latency_table(
            "the same from one libpq client (pgbench, prepared statements)",
            list(report["libpq"].items()),
            {"round_trip": "round trip (select the user)"},
        )
    )
    console.print(
        f"refresh: median {report['refresh_seconds']['median']:.2f} s; "
        f"errors while refreshing: {report['recommend_during_refresh']['errors']}"
    )
    probes = Table(title="index probes against an exact scan (k = 50)")
    for column in ("probe", "recall", "queries mostly missed", "distance gap"):
        probes.add_column(column, justify="left" if column == "probe" else "right")
    for kind, recall in report["ann_recall_at_50"].items():
        if recall is None:  # nothing to ask with (no text vectors)
            probes.add_row(kind.replace("_", " "), "—", "—", "—")
            continue
        probes.add_row(
            kind.replace("_", " "),
            f"{recall:.4f}",
            f"{report['ann_missed_at_50'][kind]:.1%}",
            f"{report['ann_distance_gap_at_50'][kind]:.5f}",
        )
    console.print(probes)
    if "recommend_concurrent" in report:
        r = report["recommend_concurrent"]
        console.print(
            f"{r['clients']} clients: {r['slates_per_second']:.1f} fresh slates per second",
            highlight=False,
        )
    if json_path is None:
        json_path = Settings().home / "reports" / f"bench-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
        json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2))
    console.print(f"report {json_path}")
