"""`recodb demo`: the whole job in one command, then the live API.

Migrate, seed a small world, train, refresh, show a few users' feeds with their reasons and the
evaluation against baselines, then serve the HTTP API. A second run reuses the data, the model
and the evaluation it finds (`--fresh` starts over).
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime
from typing import Annotated

import psycopg
import typer
from rich.table import Table

from recodb import db, schema
from recodb.cli.api import Host, Port, Workers, app_database_url, run_server
from recodb.cli.common import Seed, console, database, migrated_database, progress
from recodb.cli.data import generate_with_progress, load_with_progress
from recodb.config import Settings
from recodb.data.topics import TOPICS

app = typer.Typer()

TOPIC_NAMES = list(TOPICS)
FEED_USERS = 3
FEED_LENGTH = 8
EVALUATION_K = 10


@app.command("demo")
def demo_command(
    users: Annotated[int, typer.Option(min=2, help="Users to seed.")] = 2_000,
    posts: Annotated[int, typer.Option(min=1, help="Posts to seed.")] = 20_000,
    interactions: Annotated[int, typer.Option(min=0, help="Interactions to seed.")] = 200_000,
    seed: Seed = 42,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Start over: replace the data, retrain, re-evaluate.")
    ] = False,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the API after the printout.")
    ] = True,
    host: Host = "127.0.0.1",
    port: Port = 8000,
    workers: Workers = 1,
) -> None:
    """Seed, train, show feeds and the evaluation, then serve the API (Ctrl-C stops it)."""
    from recodb.data import load as loading
    from recodb.training import registry
    from recodb.training.fit import Params
    from recodb.training.train import train

    started = time.perf_counter()
    target = _migrated()
    with target.connect() as conn:
        found = loading.existing_rows(conn)
    if fresh or not found:
        ds = generate_with_progress(users, posts, interactions, seed)
        loaded = load_with_progress(target, ds, replace=True)
        console.print("seeded " + ", ".join(f"{n:,} {t}" for t, n in loaded.rows.items()))
    else:
        console.print(
            "reusing the data in the database: "
            + ", ".join(f"{n:,} {t}" for t, n in found.items())
            + " (--fresh starts over)"
        )
    with target.connect(autocommit=True) as conn:
        version = registry.active_version(conn)
        if version is None:
            with progress("training") as step:
                version = train(conn, Params(seed=seed), validate=False, on_step=step).version
            console.print(f"trained and activated model v{version}")
        else:
            console.print(f"reusing the active model v{version}")
        with progress("refreshing the views"):
            conn.execute("select recodb.refresh()")
        _print_feeds(conn)
    _print_evaluation(target, version, seed)
    console.print(f"[dim]ready in {time.perf_counter() - started:.0f} s[/]")
    if serve:
        _serve(target, host, port, workers)


def _migrated() -> db.Database:
    """The embedded database is upgraded on every run: that also re-applies the sql/ files."""
    target = database()
    if not target.embedded:
        return migrated_database()
    with progress("migrating"):
        schema.upgrade(target.url)
    return target


def _print_feeds(conn: psycopg.Connection) -> None:
    # The most active user, a median one and a light one: the feed follows each one's taste.
    picked = conn.execute(
        """
        with activity as (
            select user_id, count(*) as n, row_number() over (order by count(*) desc, user_id) as r,
                   count(*) over () as total
            from user_interaction group by user_id
        )
        select a.user_id, u.username, a.n, t.topic_weights
        from activity a
        join users u on u.id = a.user_id
        left join recodb.synthetic_user t on t.user_id = a.user_id
        where a.r in (1, greatest(1, a.total / 2), greatest(1, a.total * 9 / 10))
        order by a.r
        """
    ).fetchall()
    for user_id, username, n, weights in picked[:FEED_USERS]:
        rows = conn.execute(
            """
            select f.score, f.reason, s.topic, left(p.content, 60), p.created_at
            from recodb.recommend(%s, %s) with ordinality f(post_id, score, reason, rank)
            join posts p on p.id = f.post_id
            left join recodb.synthetic_post s on s.post_id = f.post_id
            order by f.rank
            """,
            (user_id, FEED_LENGTH),
        ).fetchall()
        title = f"feed of {username} ({n:,} interactions"
        if weights:
            top = sorted(range(len(weights)), key=lambda i: -weights[i])[:2]
            title += "; likes " + ", ".join(
                f"{TOPIC_NAMES[i]} {weights[i]:.0%}" for i in top if weights[i] > 0.05
            )
        table = Table(title=title + ")", title_justify="left")
        # Narrow terminals shorten the post's text, never the other columns.
        for column, width in (("score", 5), ("reason", 23), ("topic", 11), ("age", 5)):
            justify = "right" if column == "score" else "left"
            table.add_column(column, justify=justify, no_wrap=True, min_width=width)
        post_width = max(12, min(48, console.width - 62))
        table.add_column("post", no_wrap=True, overflow="ellipsis", max_width=post_width)
        now = datetime.now().astimezone()
        for score, reason, topic, text, created in rows:
            age = now - created
            table.add_row(
                f"{score:.3f}", reason,
                TOPIC_NAMES[topic] if topic is not None else "",
                f"{age.days} d" if age.days else f"{age.seconds // 3600} h",
                (text or "").replace("\n", " "),
            )  # fmt: skip
        console.print(table)


def _print_evaluation(target: db.Database, version: int, seed: int) -> None:
    from recodb.evaluation import evaluate

    folder = Settings().home / "reports"
    chart_path = folder / f"demo-evaluation-v{version}.png"
    with target.connect() as conn:
        stored = conn.execute(
            "select metrics->'evaluation' from recodb.model where version = %s", (version,)
        ).fetchone()[0]
    if stored is None:
        with progress("evaluating against baselines") as step:
            options = evaluate.Options(ks=(5, 10, 20), max_users=500, seed=seed, on_step=step)
            report = evaluate.evaluate(target, test_days=2.0, options=options)
        evaluate.store(target, report)
        evaluate.chart(report, chart_path)
        (folder / f"demo-evaluation-v{version}.json").write_text(
            json.dumps(report.to_json(), indent=2)
        )
    else:
        report = evaluate.Report(
            split_at=datetime.fromisoformat(stored["split_at"]), users=stored["users"],
            catalogue=stored["catalogue"], ks=stored["ks"], metrics=stored["metrics"],
            params=stored["params"],
        )  # fmt: skip
        if not chart_path.exists():
            evaluate.chart(report, chart_path)
    k = EVALUATION_K if EVALUATION_K in report.ks else report.ks[len(report.ks) // 2]
    table = Table(
        title=f"evaluation: {report.users} test users, the last 2 days held out, "
        f"{report.catalogue:,} posts",
        title_justify="left",
    )
    columns = [f"{m}@{k}" for m in ("precision", "recall", "ndcg", "map")] + [f"coverage@{k}"]
    table.add_column("method")
    for column in columns:
        table.add_column(column, justify="right")
    for method, values in report.metrics.items():
        table.add_row(method, *(f"{values.get(c, 0):.4f}" for c in columns))
    console.print(table)
    ours = report.metrics["recodb"][f"ndcg@{k}"]
    ratios = [
        f"{ours / report.metrics[m][f'ndcg@{k}']:.1f}× {m}"
        for m in ("most popular", "user-KNN")
        if m in report.metrics and report.metrics[m][f"ndcg@{k}"] > 0
    ]
    if ratios:
        console.print(f"recodb NDCG@{k}: " + ", ".join(ratios))
    console.print(f"chart {chart_path}")


def _serve(target: db.Database, host: str, port: int, workers: int) -> None:
    with target.connect() as conn:
        user = conn.execute("select user_id from user_interaction limit 1").fetchone()
    user_id = user[0] if user else uuid.uuid4()
    base = f"http://{host}:{port}"
    console.print(
        f"\n[bold]the API:[/] {base}  (OpenAPI {base}/schema, metrics {base}/metrics)\n"
        f"try:\n  curl -s -X POST {base}/recommendations/generate "
        f"-H 'content-type: application/json' \\\n"
        f'    -d \'{{"user_id": "{user_id}", "limit": 5}}\'\n'
        "Ctrl-C stops it.",
        highlight=False,
        soft_wrap=True,  # the curl line must stay copyable
    )
    run_server(app_database_url(target), host, port, workers)
