"""Recall and probe time of index options, on a copy of the active model's post vectors.

    uv run python scripts/ann_grid.py [--probe inner_product|content]
        [--builds 16/64,8/64,ivf1000] [--ef 40,60,100,200] [--probes 5,10] [--k 30] [--users 200]

Each build is an HNSW graph (m/ef_construction) or IVFFlat lists (ivf<lists>). For each
hnsw.ef_search (graphs) or ivfflat.probes (lists) the probe slate_parts() runs (the nearest k
posts to a user's vector, seen posts excluded, iterative scan relaxed_order) is timed (`explain
analyze`, median) and compared with a sequential scan: a post the probe finds counts when it is
no farther than the exact k-th (equal distances tie); "missed" is the share of users it found
fewer than half for, and "gap" the mean distance of what it found minus that of the exact k, as
`recodb bench` reports it. For lists, "read" is how many posts the probed lists hold (mean and p90
over the users): a probe sorts all of them, so it costs by that, and lists can be far from even.
Statements are never prepared: psycopg prepares one it has run five times, and a prepared plan
outlives `enable_indexscan = off`, which made both sides one plan (recall 1.00) in earlier
measurements. The copy (public.ann_grid_posts) is dropped at the end. Uses RECODB_HOME or
DATABASE_URL like the CLI; run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass

import psycopg
from psycopg import sql

from recodb import db
from recodb.evaluation.bench import PROBES, tie_aware_recall
from recodb.training import registry

COPY = "ann_grid_posts"


@dataclass(frozen=True)
class Build:
    """One index to try: its access method, its WITH clause, a label and its search knob."""

    method: str
    with_: sql.Composable
    label: str
    search: str


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(f"{text} is not a positive whole number")
    return value


def _build(text: str) -> Build:
    """`m/ef_construction` (an HNSW graph) or `ivf<lists>` (IVFFlat lists)."""
    if text.startswith("ivf"):
        lists = _positive(text[3:])
        return Build(
            "ivfflat",
            sql.SQL("with (lists = {})").format(sql.Literal(lists)),
            f"ivfflat lists {lists:5d}",
            "probes",
        )
    m, ef_construction = (_positive(x) for x in text.split("/"))
    return Build(
        "hnsw",
        sql.SQL("with (m = {}, ef_construction = {})").format(
            sql.Literal(m), sql.Literal(ef_construction)
        ),
        f"m {m:3d}  ef_construction {ef_construction:4d}",
        "ef_search",
    )


def _posts_in_lists(conn: psycopg.Connection, vector: str, operator: str) -> int:
    """How many posts the first lists a probe reads (the session's ivfflat.probes) hold: without
    the iterative scan the index returns every one of them (seen posts counted too)."""
    with conn.transaction():
        conn.execute("set local ivfflat.iterative_scan = off")
        conn.execute("set local enable_seqscan = off")
        conn.execute("set local enable_sort = off")
        return conn.execute(
            sql.SQL(
                "select count(*) from (select from public.{copy} v"
                " order by v.v {op} %s::public.vector limit all) x"
            ).format(op=sql.SQL(operator), copy=sql.Identifier(COPY)),
            (vector,),
            prepare=False,
        ).fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--probe",
        default="inner_product",
        choices=sorted(k for k, p in PROBES.items() if p.asked_by == "user" and p.table == "post"),
        help="a user's probe of the posts (similar_posts and neighbours: `recodb bench`)",
    )
    parser.add_argument(
        "--builds",
        default="16/64,8/64",
        help="m/ef_construction (HNSW) or ivf<lists> (IVFFlat), comma-separated",
    )
    parser.add_argument("--ef", default="40,60,100,200", help="hnsw.ef_search values")
    parser.add_argument("--probes", default="5,10", help="ivfflat.probes values")
    parser.add_argument("--k", type=_positive, default=30, help="posts per probe")
    parser.add_argument("--users", type=_positive, default=200)
    args = parser.parse_args()
    try:
        builds = [_build(b) for b in args.builds.split(",")]
        efs = [_positive(e) for e in args.ef.split(",")]
        probes_ = [_positive(p) for p in args.probes.split(",")]
    except ValueError as exc:
        parser.error(str(exc))
    column, operator = PROBES[args.probe].column, PROBES[args.probe].operator
    ops = "vector_ip_ops" if operator == "<#>" else "vector_cosine_ops"

    with psycopg.connect(db.resolve().url, autocommit=True) as conn:
        version = registry.active_version(conn)
        if version is None:
            raise SystemExit("no active model: train one first")
        posts = registry.model_table(conn, "post", version)
        users = registry.model_table(conn, "user", version)
        row = conn.execute(
            sql.SQL("select vector_dims({}) from {} where {} is not null limit 1").format(
                sql.Identifier(column), posts, sql.Identifier(column)
            )
        ).fetchone()
        if row is None:
            parser.error(f"the active model (version {version}) has no {column} vectors")
        dims = row[0]
        conn.execute(sql.SQL("drop table if exists public.{}").format(sql.Identifier(COPY)))
        conn.execute(
            sql.SQL(
                "create table public.{} as select post_id, {}::public.vector({}) as v"
                " from {} where {} is not null"
            ).format(
                sql.Identifier(COPY),
                sql.Identifier(column),
                sql.Literal(dims),
                posts,
                sql.Identifier(column),
            )
        )
        try:
            conn.execute(sql.SQL("analyze public.{}").format(sql.Identifier(COPY)))
            queries = conn.execute(
                sql.SQL(
                    "select user_id, {}::text from {} where {} is not null"
                    " order by md5(user_id::text) limit %s"
                ).format(sql.Identifier(column), users, sql.Identifier(column)),
                (args.users,),
            ).fetchall()
            if not queries:
                parser.error(f"no user of version {version} has a {column} vector to ask with")
            seen = {
                u: [
                    r[0]
                    for r in conn.execute(
                        "select distinct post_id from user_interaction where user_id = %s", (u,)
                    )
                ]
                for u, _ in queries
            }
            probe = sql.SQL(
                "select v.post_id, v.v {op} %(v)s::public.vector from public.{copy} v"
                " where v.post_id <> all (%(seen)s) order by v.v {op} %(v)s::public.vector"
                " limit %(k)s"
            ).format(op=sql.SQL(operator), copy=sql.Identifier(COPY))
            exact = {}
            with conn.transaction():
                conn.execute("set local enable_indexscan = off")
                for u, vector in queries:
                    args_ = {"v": vector, "seen": seen[u], "k": args.k}
                    exact[u] = [d for _, d in conn.execute(probe, args_, prepare=False)]
            print(f"{args.probe}: {len(queries)} users, k {args.k}, {dims} dimensions")
            for build in builds:
                conn.execute(sql.SQL("drop index if exists public.ann_grid_index"))
                # As index_model_table() builds (one parallel worker beside the leader).
                conn.execute("set maintenance_work_mem = '2GB'")
                conn.execute("set max_parallel_maintenance_workers = 1")
                started = time.perf_counter()
                conn.execute(
                    sql.SQL(
                        "create index ann_grid_index on public.{} using {} (v public.{}) {}"
                    ).format(sql.Identifier(COPY), sql.SQL(build.method), sql.SQL(ops), build.with_)
                )
                seconds = time.perf_counter() - started
                for search in efs if build.method == "hnsw" else probes_:
                    if build.method == "hnsw":
                        conn.execute(sql.SQL("set hnsw.ef_search = {}").format(sql.Literal(search)))
                        conn.execute("set hnsw.iterative_scan = relaxed_order")
                    else:
                        conn.execute(sql.SQL("set ivfflat.probes = {}").format(sql.Literal(search)))
                        conn.execute("set ivfflat.iterative_scan = relaxed_order")
                    recalls, times, read, gaps = [], [], [], []
                    for u, vector in queries:
                        args_ = {"v": vector, "seen": seen[u], "k": args.k}
                        plan = conn.execute(
                            b"explain (analyze, format json) " + probe.as_bytes(conn),
                            args_,
                            prepare=False,
                        ).fetchone()[0][0]
                        times.append(plan["Execution Time"])
                        found = [d for _, d in conn.execute(probe, args_, prepare=False)]
                        recalls.append(tie_aware_recall(found, exact[u]))
                        n = min(len(found), len(exact[u]))
                        if n:  # as `recodb bench`: what the found rows lose to the exact n
                            gaps.append(statistics.mean(found[:n]) - statistics.mean(exact[u][:n]))
                        if build.method == "ivfflat":
                            read.append(_posts_in_lists(conn, vector, operator))
                    missed = sum(r < 0.5 for r in recalls) / len(recalls)
                    lists_read = (
                        f"  read {statistics.mean(read):7.0f} / p90"
                        f" {statistics.quantiles(read, n=10)[-1]:7.0f}"
                        if len(read) > 1
                        else ""
                    )
                    print(
                        f"{build.label}  build {seconds:6.1f} s  {build.search} {search:4d}"
                        f"  probe p50 {statistics.median(times):6.3f} ms"
                        f"  missed {missed:6.1%}  recall@{args.k} {statistics.mean(recalls):.3f}"
                        f"  gap {statistics.mean(gaps) if gaps else float('nan'):.5f}"
                        f"{lists_read}",
                        flush=True,
                    )
        finally:
            conn.execute(sql.SQL("drop table if exists public.{}").format(sql.Identifier(COPY)))


if __name__ == "__main__":
    main()
