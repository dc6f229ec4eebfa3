"""Serving benchmarks: latency of the SQL functions as a client sees them, refresh time,
readers during a refresh, and the recall of the index probes (recommend()'s candidates,
similar_posts) against an exact scan.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from recodb import Step, db
from recodb.errors import RecodbError
from recodb.training import registry


def _summary(seconds: list[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1000
    return {
        "n": len(ms),
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "max_ms": round(float(ms.max()), 3),
    }


def _timed(conn: psycopg.Connection, query: str, args_list: list[tuple]) -> list[float]:
    out = []
    for args in args_list:
        started = time.perf_counter()
        conn.execute(query, args).fetchall()
        out.append(time.perf_counter() - started)
    return out


SCORING_FUNCTION = "recodb.slate_parts(uuid, integer, public.vector, public.vector, uuid[], jsonb)"
NEIGHBOURS_FUNCTION = "recodb.cosine_neighbours(text, uuid, integer)"


def probe_settings(conn: psycopg.Connection, function: str = SCORING_FUNCTION) -> dict[str, str]:
    """The hnsw.* and ivfflat.* settings a serving function runs with (its SET clauses); by
    default those of recommend()'s scoring function."""
    config = conn.execute(
        "select proconfig from pg_proc where oid = %s::regprocedure", (function,)
    ).fetchone()[0]
    pairs = (item.split("=", 1) for item in config or [])
    return {k: v for k, v in pairs if k.startswith(("hnsw.", "ivfflat."))}


@dataclass(frozen=True)
class Probe:
    """One index probe serving runs: the model table (post or user) it searches, by which vector
    column and pgvector operator, what asks (a user's vector, or the row's own: a post for
    similar_posts), and the function whose hnsw.* and ivfflat.* settings it runs with."""

    table: str
    column: str
    operator: str
    asked_by: str
    excludes: str = "seen"  # what the probe leaves out: the user's seen posts, or "self"
    function: str = SCORING_FUNCTION


PROBES = {
    # A fresh slate's probes (slate_parts()); the neighbours probe only for a user whose
    # nearest users the version did not store (one it was not trained on).
    "inner_product": Probe("post", "cf", "<#>", "user"),
    "content": Probe("post", "content", "<=>", "user"),
    "neighbours": Probe("user", "cf", "<=>", "user", "self"),
    # similar_posts() (cosine_neighbours()).
    "similar_posts": Probe("post", "cf", "<=>", "post", "self", NEIGHBOURS_FUNCTION),
}


def probe_query(conn: psycopg.Connection, version: int, kind: str) -> sql.Composed:
    """A probe of the version's posts or users: the nearest to the vector %(v)s, the ids
    %(seen)s left out (a user's seen posts, or the asking row itself), %(k)s of them, each with
    its distance (the index answers it unless index scans are off)."""
    probe = PROBES[kind]
    return sql.SQL(
        "select v.{key}, v.{col} {op} %(v)s::public.vector as distance from {table} v"
        " where v.{col} is not null and v.{key} <> all (%(seen)s)"
        " order by v.{col} {op} %(v)s::public.vector limit %(k)s"
    ).format(
        table=registry.model_table(conn, probe.table, version),
        key=sql.Identifier(f"{probe.table}_id"),
        col=sql.Identifier(probe.column),
        op=sql.SQL(probe.operator),
    )


def tie_aware_recall(approx: list[float], exact: list[float]) -> float:
    """The share of the exact k nearest that a probe found, by distance: a found post counts
    when it is no farther than the exact k-th (up to 1e-6 for rounding), as ann-benchmarks
    counts, so that which of several equally distant posts each side returned does not
    matter."""
    kth = max(exact) + 1e-6
    return min(sum(d <= kth for d in approx), len(exact)) / len(exact)


@dataclass(frozen=True)
class ProbeQuality:
    """How near a probe comes to an exact scan, averaged over its queries: recall (tie-aware),
    the share of queries it mostly missed (recall below one half), and the distance gap (the
    mean distance of what it found minus that of the exact k nearest: what a miss costs, in
    the operator's units; for cosine, lost similarity). None when the probe had nothing to ask
    with (a model without text vectors)."""

    recall: float | None
    missed: float | None
    distance_gap: float | None


def ann_recall(
    conn: psycopg.Connection, version: int, users: list, posts: list, k: int = 50
) -> dict[str, ProbeQuality]:
    """Per probe (PROBES): how the index's answer compares with the exact k nearest (a sequential
    scan), with the serving function's own settings. A user's probes leave their seen posts out
    (and themselves, among users), as slate_parts() does; similar_posts asks with the vectors of
    `posts`, each leaving itself out. The vector is a parameter, as in slate_parts(): an ORDER BY
    on a joined column would not use the index and would compare the scan with itself. Counted
    by distance (tie_aware_recall()): rows at equal distances tie, and which of them a scan
    returns is arbitrary, so comparing the two sets of ids undercounts."""
    users_table = registry.model_table(conn, "user", version)
    posts_table = registry.model_table(conn, "post", version)
    asking: dict[str, list[tuple[Any, dict[str, str | None], list]]] = {"user": [], "post": []}
    for user in users:
        cf, content = conn.execute(
            sql.SQL("select cf::text, content::text from {} where user_id = %s").format(
                users_table
            ),
            (user,),
        ).fetchone()
        seen = [
            r[0]
            for r in conn.execute(
                "select distinct post_id from user_interaction where user_id = %s", (user,)
            )
        ]
        asking["user"].append((user, {"cf": cf, "content": content}, seen))
    vectors = dict(
        conn.execute(
            sql.SQL("select post_id, cf::text from {} where post_id = any (%s)").format(
                posts_table
            ),
            (posts,),
        ).fetchall()
    )
    asking["post"] = [(post, {"cf": vectors.get(post)}, []) for post in posts]

    out = {}
    for kind, probe in PROBES.items():
        settings = probe_settings(conn, probe.function)
        query = probe_query(conn, version, kind)
        recalls, gaps = [], []
        for who, own, seen in asking[probe.asked_by]:
            vector = own.get(probe.column)
            if vector is None:
                continue
            args = {"v": vector, "seen": seen if probe.excludes == "seen" else [who], "k": k}
            with conn.transaction():
                for name, value in settings.items():
                    conn.execute("select set_config(%s, %s, true)", (name, value))
                # prepare=False: psycopg prepares a statement it has run a few times, and a
                # prepared plan outlives the setting it was planned under (the scan's plan
                # would answer the probe, and recall read 1.00).
                approx = [d for _, d in conn.execute(query, args, prepare=False)]
                conn.execute("set local enable_indexscan = off")
                exact = [d for _, d in conn.execute(query, args, prepare=False)]
            if exact and approx:
                recalls.append(tie_aware_recall(approx, exact))
                # The exact n nearest bound any n rows the probe found. A short answer (fewer
                # than k rows) shows in recall, not here.
                n = min(len(approx), len(exact))
                gaps.append(float(np.mean(approx[:n])) - float(np.mean(exact[:n])))
        out[kind] = (
            ProbeQuality(
                float(np.mean(recalls)),
                float(np.mean(np.array(recalls) < 0.5)),
                float(np.mean(gaps)),
            )
            if recalls
            else ProbeQuality(None, None, None)  # nothing to ask with (no text vectors)
        )
    return out


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def data_scale(conn: psycopg.Connection) -> dict[str, int]:
    """How many users, posts and interactions the database holds (a bench report's title)."""
    row = conn.execute(
        "select (select count(*) from users), (select count(*) from posts),"
        " (select count(*) from user_interaction)"
    ).fetchone()
    return dict(zip(("users", "posts", "interactions"), row, strict=True))


def run(
    database: db.Database,
    *,
    queries: int = 1000,
    seed: int = 42,
    clients: int = 0,
    seconds: float = 30,
    standby_url: str | None = None,
    on_step: Step | None = None,
) -> dict[str, Any]:
    """Measure the current database's active model. Returns a JSON-able report.

    With `clients`, also fresh slates from that many concurrent clients for `seconds` (pgbench);
    with `standby_url`, first pages on that hot standby of this database (computed there, and
    read from the slates precompute stored on the primary).
    """
    step = on_step or (lambda _: None)
    with database.connect(autocommit=True) as conn:
        version = registry.active_version(conn)
        if version is None:
            raise RecodbError("no active model: run `recodb train` first")
        scale = data_scale(conn)
        users = [
            r[0]
            for r in conn.execute(
                "select id from users order by md5(id::text || %s) limit %s", (str(seed), queries)
            )
        ]
        posts = [
            r[0]
            for r in conn.execute(
                sql.SQL(
                    "select post_id from {} where cf is not null"
                    " order by md5(post_id::text || %s) limit %s"
                ).format(registry.model_table(conn, "post", version)),
                (str(seed), queries),
            )
        ]

        step("refresh")
        refresh = []
        for _ in range(3):
            started = time.perf_counter()
            conn.execute("select recodb.refresh()").fetchall()
            refresh.append(time.perf_counter() - started)

        step("warm-up")
        _timed(conn, FRESH, [(u,) for u in users[:50]])
        # The floor under every figure: a round trip that does nothing.
        round_trip = _timed(conn, ROUND_TRIP, [(u,) for u in users])
        step(f"recommend, fresh slates ({len(users)} users)")
        _forget_precomputed(conn, users)
        fresh = _timed(conn, FRESH, [(u,) for u in users])
        step("recommend, second pages from the stored slates")
        stored = _timed(conn, STORED, [(u,) for u in users])
        step("the same pages read straight from recodb.slate")
        page_read = _timed(conn, PAGE_READ, [(u,) for u in users])
        step("the same through libpq (pgbench, one client)")
        with _bench_users(database, users):
            libpq = libpq_latencies(database, users)
        step(f"similar_posts ({len(posts)} posts)")
        similar = _timed(conn, "select * from recodb.similar_posts(%s, 20)", [(p,) for p in posts])
        step("ANN recall@50")
        with_vectors = [
            r[0]
            for r in conn.execute(
                sql.SQL(
                    "select user_id from {} order by md5(user_id::text || %s) limit 200"
                ).format(registry.model_table(conn, "user", version)),
                (str(seed),),
            )
        ]
        recall = ann_recall(conn, version, with_vectors, posts[:200])
        probe_settings_used = {
            kind: probe_settings(conn, probe.function) for kind, probe in PROBES.items()
        }

    step("recommend while refreshing")
    during, errors = _readers_during_refresh(database, users[:200])
    extra: dict[str, Any] = {}
    if standby_url:
        extra |= _standby(database, standby_url, users, step)
    if clients:
        step(f"fresh slates, {clients} clients for {seconds:g} s (pgbench)")
        with database.connect(autocommit=True) as conn:
            _forget_precomputed(conn, users)  # (the standby's part precomputes some)
        extra["recommend_concurrent"] = concurrent_fresh(database, users, clients, seconds)
    return extra | {
        "scale": scale,
        "model_version": version,
        "round_trip": _summary(round_trip),
        "recommend_fresh": _summary(fresh),
        "recommend_stored_slate": _summary(stored),
        "slate_page_read": _summary(page_read),
        "libpq": libpq,
        "similar_posts": _summary(similar),
        "refresh_seconds": {
            "median": round(statistics.median(refresh), 3),
            "runs": [round(s, 3) for s in refresh],
        },
        "recommend_during_refresh": _summary(during) | {"errors": errors},
        "ann_recall_at_50": {kind: _round(q.recall, 4) for kind, q in recall.items()},
        # The share of queries a probe mostly missed (recall < 0.5), and what its misses cost
        # in distance (mean found minus mean exact; for cosine, similarity lost).
        "ann_missed_at_50": {kind: _round(q.missed, 4) for kind, q in recall.items()},
        "ann_distance_gap_at_50": {kind: _round(q.distance_gap, 5) for kind, q in recall.items()},
        "probe_settings": probe_settings_used,
    }


# The floor under a stored page: the same 50 rows from one lookup of the slate table, without
# recommend() (what the wire and the client's decoding of 50 rows cost; 0.33–0.43 ms p50 on
# the 2-core machine with psycopg's C implementation).
# The statements timed for one user (%s): a round trip that does nothing, a first page (a fresh
# slate, unless precompute stored one) and the second page of the stored slate.
ROUND_TRIP = "select %s::uuid"
FRESH = "select * from recodb.recommend(%s, 50, 0)"
STORED = "select * from recodb.recommend(%s, 50, 50)"
PAGE_READ = (
    "select x.post_id, x.score, x.reason from recodb.slate s,"
    " unnest(s.post_ids[51:100], s.scores[51:100], s.reasons[51:100]) as x(post_id, score, reason)"
    " where s.user_id = %s"
)


def _forget_precomputed(conn: psycopg.Connection, users: list) -> None:
    """Drop the users' precomputed slates, whose first page is a lookup: the fresh slates timed
    next must be computed (a `recodb precompute` shortly before would make them lookups)."""
    conn.execute("delete from recodb.slate where user_id = any(%s) and precomputed", (users,))


def _standby(database: db.Database, standby_url: str, users: list, step: Step) -> dict:
    """First pages on a hot standby: computed there (users without a replicated slate), then
    read from the slates `recodb precompute` stored on the primary (as many users)."""
    with (
        database.connect(autocommit=True) as primary,
        psycopg.connect(standby_url, autocommit=True) as conn,
    ):
        primary.execute("delete from recodb.replica_slate where user_id = any(%s)", (users,))
        _wait_for_replay(primary, conn)
        step(f"recommend on the standby, computed ({len(users)} users)")
        _timed(conn, FRESH, [(u,) for u in users[:50]])
        computed = _timed(conn, FRESH, [(u,) for u in users])
        step(f"precompute {len(users)} slates on the primary")
        before = primary.execute("select now()").fetchone()[0]
        # Precompute skips users with a live slate; without theirs, at least the bench's users
        # are eligible (it takes the first in user_id order, whoever they are).
        primary.execute("delete from recodb.slate where user_id = any(%s)", (users,))
        primary.execute("select * from recodb.precompute(7, null, %s)", (len(users),)).fetchall()
        precomputed = [
            r[0]
            for r in primary.execute(
                "select user_id from recodb.replica_slate where generated_at >= %s", (before,)
            )
        ]
        _wait_for_replay(primary, conn)
        step("recommend on the standby, slates precompute stored")
        stored = _timed(conn, FRESH, [(u,) for u in precomputed])
    return {"recommend_standby": _summary(computed)} | (
        {"recommend_standby_stored": _summary(stored)} if stored else {}
    )


def _wait_for_replay(primary: psycopg.Connection, standby: psycopg.Connection) -> None:
    """Until the standby has replayed everything the primary wrote so far (60 s at most)."""
    written = primary.execute("select pg_current_wal_lsn()").fetchone()[0]
    deadline = time.monotonic() + 60
    while not standby.execute(
        "select pg_last_wal_replay_lsn() >= %s::pg_lsn", (written,)
    ).fetchone()[0]:
        if time.monotonic() > deadline:
            raise RecodbError("the standby is more than 60 s behind the primary")
        time.sleep(0.05)


def _readers_during_refresh(database: db.Database, users: list) -> tuple[list[float], int]:
    """recommend() latencies from a second connection while refresh() runs twice."""
    done = threading.Event()
    latencies: list[float] = []
    errors = 0

    def reader() -> None:
        nonlocal errors
        with database.connect(autocommit=True) as conn:
            i = 0
            while not done.is_set():
                started = time.perf_counter()
                try:
                    conn.execute(FRESH, (users[i % len(users)],)).fetchall()
                    latencies.append(time.perf_counter() - started)
                except psycopg.Error:
                    errors += 1
                i += 1

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        with database.connect(autocommit=True) as conn:
            for _ in range(2):
                conn.execute("select recodb.refresh()").fetchall()
    finally:
        done.set()
        thread.join()
    return latencies or [0.0], errors


BENCH_USERS = "recodb_bench_user"


@contextmanager
def _bench_users(database: db.Database, users: list) -> Iterator[None]:
    """The bench's users numbered 1..n in a table pgbench scripts look up (`:n`): pgbench's
    variables are numbers, not uuids. Dropped afterwards."""
    table = sql.Identifier(BENCH_USERS)
    with database.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("drop table if exists {}").format(table))
        conn.execute(sql.SQL("create table {} (n integer primary key, id uuid)").format(table))
        with conn.cursor().copy(sql.SQL("copy {} (n, id) from stdin").format(table)) as copy:
            for n, user in enumerate(users, 1):
                copy.write_row((n, user))
        conn.execute(sql.SQL("analyze {}").format(table))
    try:
        yield
    finally:
        with database.connect(autocommit=True) as conn:
            conn.execute(sql.SQL("drop table if exists {}").format(table))


@dataclass(frozen=True)
class PgbenchRun:
    """Every transaction's latency (seconds, in the order one client ran them), the wall time
    and pgbench's line about failed transactions, if any."""

    latencies: list[float]
    seconds: float
    failed: list[str]


def _pgbench(
    database: db.Database,
    statement: str,
    users: int,
    *,
    clients: int = 1,
    seconds: float | None = None,
    transactions: int | None = None,
    prepared: bool = False,
) -> PgbenchRun:
    """Run `statement` (`:n` a random bench user's number, see _bench_users) from `clients`
    pgbench connections, for `seconds` or `transactions` each. pgbench ships with the
    embedded server and reads its results through libpq, without a Python client's cost."""
    import subprocess
    import tempfile

    from recodb import embedded

    with tempfile.TemporaryDirectory(prefix="recodb-pgbench-") as folder:
        script = Path(folder) / "bench.sql"
        script.write_text(f"\\set n random(1, :nusers)\n{statement};\n")
        length = ["-T", str(int(seconds))] if seconds is not None else ["-t", str(transactions)]
        started = time.perf_counter()
        result = subprocess.run(
            [str(embedded.binary("pgbench")), "-n", "-f", str(script), "-c", str(clients),
             "-j", str(min(clients, 4)), *length, "-l", "-D", f"nusers={users}",
             "-M", "prepared" if prepared else "simple",
             "--log-prefix", str(Path(folder) / "tx"), database.url],
            capture_output=True, text=True, cwd=folder, check=False,
        )  # fmt: skip
        elapsed = time.perf_counter() - started
        if result.returncode != 0:
            raise RuntimeError(f"pgbench failed: {result.stderr.strip()[-500:]}")
        latencies = [
            int(line.split()[2]) / 1e6
            for log in sorted(Path(folder).glob("tx*"))
            for line in log.read_text().splitlines()
            if line.strip()
        ]
    failed = [line for line in result.stdout.splitlines() if "failed" in line]
    return PgbenchRun(latencies, elapsed, failed[:1])


# What one libpq client (pgbench, its statements prepared) measures: the same as the rows above
# without psycopg's cost of decoding 50 rows in Python, as a C, Go or Node driver would see them.
# Each statement takes a random bench user's id (`:n`, see _bench_users) with one primary-key
# lookup, and so does the round trip.
BENCH_USER = "(select id from BENCH_USERS where n = :n)".replace("BENCH_USERS", BENCH_USERS)
LIBPQ = {
    name: statement.replace("%s", BENCH_USER)
    for name, statement in (
        ("round_trip", ROUND_TRIP),
        ("recommend_stored_slate", STORED),
        ("slate_page_read", PAGE_READ),
        ("recommend_fresh", FRESH),
    )
}
# The first calls of a connection plan its statements: left out of the figures.
LIBPQ_WARM_UP = 50


def libpq_latencies(database: db.Database, users: list) -> dict[str, dict[str, float]]:
    """LIBPQ's statements from one pgbench client each, len(users) timed calls after
    LIBPQ_WARM_UP untimed ones. The stored page and the page read need the users' slates
    (the fresh slates timed before), and the fresh slates come last, as they replace them."""
    out = {}
    for name, statement in LIBPQ.items():
        run = _pgbench(
            database, statement, len(users),
            transactions=len(users) + LIBPQ_WARM_UP, prepared=True,
        )  # fmt: skip
        out[name] = _summary(run.latencies[LIBPQ_WARM_UP:])
    return out


def concurrent_fresh(database: db.Database, users: list, clients: int, seconds: float) -> dict:
    """Fresh slates (`recommend(user, 50, 0)` for random users) from `clients` connections at
    once for `seconds`, driven by pgbench. Returns slates per second and the latency
    percentiles of every call."""
    with _bench_users(database, users):
        run = _pgbench(
            database, LIBPQ["recommend_fresh"], len(users),
            clients=clients, seconds=seconds,
        )  # fmt: skip
    return _summary(run.latencies) | {
        "clients": clients,
        "seconds": round(run.seconds, 1),
        "slates_per_second": round(len(run.latencies) / seconds, 1),
        "pgbench": run.failed,
    }
