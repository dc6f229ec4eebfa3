"""recommend() and friends on generated data: the feed's properties, cold start and fold-in,
pagination, the author cap, refresh under load, and bad arguments."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from conftest import served_database
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from recodb.data import load as loading
from recodb.data.generate import generate

REASONS = {"collaborative_filtering", "following", "content", "fresh", "trending"}


@pytest.fixture(scope="module")
def served_url(server_url: str, template_url: str) -> Iterator[str]:
    """A database with generated data, a trained model and refreshed views (shared: tests
    that change it use their own users, or undo what they change)."""
    yield from served_database(
        server_url,
        size=(400, 3000, 40_000),
        seed=5,
        topics=8,
        days=10,
        iterations=10,
    )


@pytest.fixture
def served(served_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(served_url, autocommit=True) as conn:
        yield conn


def _users(conn: psycopg.Connection, n: int, offset: int = 0) -> list[uuid.UUID]:
    return [
        r[0]
        for r in conn.execute(
            "select user_id from recodb.user_vector_v1 order by user_id limit %s offset %s",
            (n, offset),
        )
    ]


def _feed(conn, user, limit=50, offset=0, exclude_seen=True) -> list[tuple]:
    return conn.execute(
        "select post_id, score, reason from recodb.recommend(%s, %s, %s, %s)",
        (user, limit, offset, exclude_seen),
    ).fetchall()


def _seen(conn, user) -> set[uuid.UUID]:
    return {
        r[0]
        for r in conn.execute("select post_id from user_interaction where user_id = %s", (user,))
    }


def _eligible(conn, user, cap: int = 3) -> int:
    """Unseen posts, at most `cap` per author: how full the slate can be."""
    return conn.execute(
        """select count(*) from (
               select row_number() over (partition by author_id order by id) as nth, author_id
               from posts p
               where not exists (select from user_interaction i
                                 where i.user_id = %s and i.post_id = p.id)) x
           where author_id is null or nth <= %s""",
        (user, cap),
    ).fetchone()[0]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(index=st.integers(0, 199), limit=st.integers(1, 500))
def test_feed_properties(served: psycopg.Connection, index: int, limit: int) -> None:
    user = _users(served, 1, index)[0]
    rows = _feed(served, user, limit)
    posts = [r[0] for r in rows]
    assert len(rows) == min(limit, _eligible(served, user))
    assert len(set(posts)) == len(posts)
    assert not set(posts) & _seen(served, user)
    assert all(0 <= r[1] <= 1 for r in rows)
    assert rows == sorted(rows, key=lambda r: (-r[1], r[0]))
    assert {r[2] for r in rows} <= REASONS
    # The same state gives the same feed (scores move only with the clock, by the recency part).
    again = _feed(served, user, limit)
    assert [(r[0], r[2]) for r in again] == [(r[0], r[2]) for r in rows]
    assert [r[1] for r in again] == pytest.approx([r[1] for r in rows], rel=1e-6)


def test_sources_all_contribute(served: psycopg.Connection) -> None:
    reasons = set()
    for user in _users(served, 40):
        reasons |= {r[2] for r in _feed(served, user, 100)}
    assert {"collaborative_filtering", "content", "trending"} <= reasons


def test_pages_never_repeat(served: psycopg.Connection) -> None:
    user = _users(served, 1, 3)[0]
    # 10 pages of 20: past the slate's 100 posts, within the 240 eligible (80 authors × 3)
    pages = [_feed(served, user, 20, offset) for offset in range(0, 200, 20)]
    posts = [r[0] for page in pages for r in page]
    assert len(posts) == len(set(posts)) == 200
    # The whole scroll is still sorted: later pages extend the slate below what it held.
    scores = [r[1] for page in pages for r in page]
    assert scores == sorted(scores, reverse=True)
    # A page from the stored slate is exactly that slice of it.
    assert _feed(served, user, 20, 20) == pages[1]
    # Offset 0 starts a new slate.
    assert [r[0] for r in _feed(served, user, 20, 0)] == [r[0] for r in pages[0]]


def test_a_continued_slate_leaves_out_what_was_touched(served: psycopg.Connection) -> None:
    user = _users(served, 1, 9)[0]
    slate = [r[0] for r in _feed(served, user, 100)]  # the stored slate's 100 posts
    touched = slate[95]
    served.execute("select recodb.track_interaction(%s, %s, 'click')", (user, touched))
    # Past the slate's end the page extends it; its stored part leaves the touched post out.
    page = [r[0] for r in _feed(served, user, 20, 90)]
    assert page[:9] == [p for p in slate[90:] if p != touched]
    assert len(page) == 19 and touched not in page and not set(page) & set(slate[:90])


def test_seen_posts_come_back_when_not_excluded(served: psycopg.Connection) -> None:
    user = _users(served, 1, 8)[0]
    posts = {r[0] for r in _feed(served, user, 500, exclude_seen=False)}
    assert posts & _seen(served, user)


def test_author_cap(served: psycopg.Connection) -> None:
    served.execute("update recodb.setting set value = '1' where key = 'max_posts_per_author'")
    try:
        for user in _users(served, 5, 20):
            rows = _feed(served, user, 200)
            authors = served.execute(
                "select author_id, count(*) from posts where id = any(%s)"
                " group by 1 having count(*) > 1",
                ([r[0] for r in rows],),
            ).fetchall()
            assert authors == []
    finally:
        served.execute("update recodb.setting set value = '3' where key = 'max_posts_per_author'")


def test_the_top_up_reaches_past_the_newest_posts_a_user_saw(served: psycopg.Connection) -> None:
    """The newest posts fill a slate the sources leave short. When the user saw the newest ones,
    the top-up's first scan finds nothing it may use and must widen: the slate is still as full
    as the unseen posts allow, and holds none of the seen."""
    with served.transaction(force_rollback=True):
        reader = served.execute(
            "insert into users (username) values ('reads everything new') returning id"
        ).fetchone()[0]
        newest = [
            r[0]
            for r in served.execute("select id from posts order by created_at desc, id limit 300")
        ]
        served.execute(
            "insert into user_interaction (user_id, post_id, interaction_type)"
            " select %s, p, 'view' from unnest(%s::uuid[]) p",
            (reader, newest),
        )
        rows = _feed(served, reader, 500)
        assert len(rows) == min(500, _eligible(served, reader)) > 100
        assert not {r[0] for r in rows} & set(newest)
        assert "fresh" in {r[2] for r in rows}


def test_cold_start_then_fold_in(served: psycopg.Connection) -> None:
    newcomer = served.execute(
        "insert into users (username) values ('newcomer') returning id"
    ).fetchone()[0]
    cold = _feed(served, newcomer, 20)
    trending = [r[0] for r in served.execute("select post_id from recodb.trending(20)")]
    assert len(cold) == 20
    assert [r[0] for r in cold if r[2] == "trending"]  # trending posts at once
    assert set(trending[:5]) <= {r[0] for r in cold}

    # Likes on one topic's posts fold into a vector: the feed turns to that topic.
    topic_posts = [
        r[0]
        for r in served.execute(
            "select post_id from recodb.synthetic_post where topic = 3"
            " order by quality desc limit 12"
        )
    ]
    for post in topic_posts:
        served.execute("select recodb.track_interaction(%s, %s, 'like')", (newcomer, post))
    warm = _feed(served, newcomer, 20)
    assert [r[0] for r in warm] != [r[0] for r in cold]
    assert "collaborative_filtering" in {r[2] for r in warm}
    topics = dict(
        served.execute(
            "select post_id, topic from recodb.synthetic_post where post_id = any(%s)",
            ([r[0] for r in warm],),
        ).fetchall()
    )
    on_topic = sum(t == 3 for t in topics.values())
    assert on_topic >= len(warm) / 2, f"{on_topic} of {len(warm)} on the liked topic"
    assert not {r[0] for r in warm} & set(topic_posts)


def test_an_id_that_is_not_a_user_gets_the_cold_start_feed(served: psycopg.Connection) -> None:
    stranger = uuid.uuid4()
    before = served.execute("select count(*) from recodb.slate").fetchone()[0]
    rows = _feed(served, stranger, 20)
    trending = [r[0] for r in served.execute("select post_id from recodb.trending(20)")]
    assert [r[0] for r in rows][:5] == trending[:5]
    assert len(rows) == 20 and {r[2] for r in rows} <= {"trending", "fresh"}
    assert _feed(served, stranger, 20, 20)  # later pages work too
    # Nothing is stored for ids that are not users.
    assert served.execute("select count(*) from recodb.slate").fetchone()[0] == before


def test_track_interaction(served: psycopg.Connection) -> None:
    user = _users(served, 1, 30)[0]
    post = served.execute("select id from posts limit 1").fetchone()[0]
    before = served.execute("select count(*) from user_interaction").fetchone()[0]
    new_id = served.execute(
        "select recodb.track_interaction(%s, %s, 'share', %s)", (user, post, Jsonb({"via": "test"}))
    ).fetchone()[0]
    row = served.execute(
        "select user_id, post_id, interaction_type, metadata from user_interaction where id = %s",
        (new_id,),
    ).fetchone()
    assert row == (user, post, "share", {"via": "test"})
    bad = [
        ((user, post, "poke", None), "p_type must be one of"),
        ((None, post, "view", None), "p_user_id must not be null"),
        ((user, uuid.uuid4(), "view", None), "unknown post"),
        ((uuid.uuid4(), post, "view", None), "unknown user"),
        ((user, post, "view", Jsonb([1])), "p_metadata must be a JSON object"),
    ]
    for args, message in bad:
        with pytest.raises(psycopg.errors.InvalidParameterValue, match=message):
            served.execute("select recodb.track_interaction(%s, %s, %s, %s)", args)
    assert served.execute("select count(*) from user_interaction").fetchone()[0] == before + 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((None, 10, 0, True), "p_user_id must not be null"),
        (("00000000-0000-4000-8000-000000000000", 0, 0, True), "p_limit must be between 1 and 500"),
        (("00000000-0000-4000-8000-000000000000", 501, 0, True), "p_limit must be between"),
        (("00000000-0000-4000-8000-000000000000", 10, -1, True), "p_offset must be >= 0"),
        (("00000000-0000-4000-8000-000000000000", 10, 0, None), "p_exclude_seen must not be null"),
    ],
)
def test_bad_arguments(served: psycopg.Connection, args: tuple, message: str) -> None:
    with pytest.raises(psycopg.errors.InvalidParameterValue, match=message) as info:
        served.execute("select * from recodb.recommend(%s, %s, %s, %s)", args)
    assert info.value.sqlstate == "22023"


def test_refresh_while_readers_run(served_url: str, served: psycopg.Connection) -> None:
    users = _users(served, 50, 100)
    stop = threading.Event()
    errors: list[BaseException] = []
    calls = [0]

    def reader() -> None:
        with psycopg.connect(served_url, autocommit=True) as conn:
            i = 0
            while not stop.is_set():
                try:
                    rows = _feed(conn, users[i % len(users)], 20)
                    assert len(rows) == 20
                    calls[0] += 1
                except BaseException as exc:  # every failure counts
                    errors.append(exc)
                i += 1

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    during = []
    try:
        while calls[0] < 8 and not errors:  # every refresh below starts with readers running
            time.sleep(0.01)
        for _ in range(3):
            before = calls[0]
            served.execute("select recodb.refresh()").fetchall()
            during.append(calls[0] - before)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    assert sum(during) > 0, "no reader finished a call while a refresh ran"


def test_expired_slates_are_recomputed_and_cleaned(served: psycopg.Connection) -> None:
    user = _users(served, 1, 150)[0]
    first = _feed(served, user, 10)
    stored = served.execute(
        "select post_ids[1:10], generated_at from recodb.slate where user_id = %s", (user,)
    ).fetchone()
    assert stored[0] == [r[0] for r in first]
    served.execute(
        "update recodb.slate set expires_at = %s where user_id = %s",
        (datetime(2000, 1, 1, tzinfo=UTC), user),
    )
    # No valid slate: page 2 computes a new one (and stores it) rather than reading the old.
    second_page = _feed(served, user, 10, 10)
    renewed = served.execute(
        "select post_ids[11:20], generated_at, expires_at > now() from recodb.slate"
        " where user_id = %s",
        (user,),
    ).fetchone()
    assert renewed[0] == [r[0] for r in second_page] and renewed[1] > stored[1] and renewed[2]
    served.execute(
        "update recodb.slate set expires_at = %s where user_id = %s",
        (datetime(2000, 1, 1, tzinfo=UTC), user),
    )
    served.execute("select recodb.refresh()")
    assert (
        served.execute("select count(*) from recodb.slate where user_id = %s", (user,)).fetchone()[
            0
        ]
        == 0
    )


def test_no_model_still_serves(conn: psycopg.Connection) -> None:
    loading.load(conn, generate(60, 400, 4000, seed=9, days=5))
    conn.execute("select recodb.refresh()")
    user = conn.execute("select id from users limit 1").fetchone()[0]
    rows = _feed(conn, user, 30)
    assert len(rows) == 30
    assert {r[2] for r in rows} <= {"trending", "fresh", "following"}


def test_precomputed_slates_serve_the_first_page_once(served: psycopg.Connection) -> None:
    users = _users(served, 5, 170)
    served.execute("delete from recodb.slate where user_id = any(%s)", (users,))
    stored = 0
    after = None
    while True:  # batches of 2, as `recodb precompute` runs them
        n, last = served.execute("select * from recodb.precompute(30, %s, 2)", (after,)).fetchone()
        if last is None:
            break
        stored, after = stored + n, last
    assert stored >= len(users)
    user = users[0]
    slate = served.execute(
        "select post_ids, precomputed from recodb.slate where user_id = %s", (user,)
    ).fetchone()
    assert slate[1] is True and len(slate[0]) == 100
    # A post touched since the slate was made leaves the page; the rest keep their places.
    touched = slate[0][1]
    served.execute("select recodb.track_interaction(%s, %s, 'click')", (user, touched))
    first = _feed(served, user, 10)
    assert [r[0] for r in first] == [p for p in slate[0][:10] if p != touched]
    assert (
        served.execute(
            "select precomputed from recodb.slate where user_id = %s", (user,)
        ).fetchone()[0]
        is False
    )
    # The next offset 0 is a new slate, computed now, without the touched post.
    fresh = _feed(served, user, 10)
    assert len(fresh) == 10 and touched not in {r[0] for r in fresh}


def test_the_recall_measure_compares_the_index_with_a_scan(served: psycopg.Connection) -> None:
    """bench's ANN recall: the approximate side is answered by the index, the exact side
    by a scan (an ORDER BY on a joined column once made both a scan, and recall 1.00)."""
    from recodb.evaluation import bench

    user = _users(served, 1)[0]
    cf, content = served.execute(
        "select cf::text, content::text from recodb.user_vector_v1 where user_id = %s", (user,)
    ).fetchone()
    (post_cf,) = served.execute("select cf::text from recodb.post_vector_v1 limit 1").fetchone()
    for kind, vector, index in (
        ("inner_product", cf, "post_vector_v1_cf_ip"),
        ("content", content, "post_vector_v1_content_cos"),
        ("neighbours", cf, "user_vector_v1_cf_cos"),
        ("similar_posts", post_cf, "post_vector_v1_cf_cos"),
    ):
        query = bench.probe_query(served, 1, kind)
        args = {"v": vector, "seen": [], "k": 50}
        with served.transaction():
            # The query can use the index (on this small table the planner may prefer a scan,
            # as serving's would).
            served.execute("set local enable_seqscan = off")
            plan = "\n".join(
                r[0] for r in served.execute(b"explain " + query.as_bytes(served), args)
            )
            assert f"Index Scan using {index} " in plan, (kind, plan)
            served.execute("set local enable_seqscan = on")
            served.execute("set local enable_indexscan = off")
            plan = "\n".join(
                r[0] for r in served.execute(b"explain " + query.as_bytes(served), args)
            )
            assert "Seq Scan" in plan
    posts = [r[0] for r in served.execute("select post_id from recodb.post_vector_v1 limit 8")]
    recall = bench.ann_recall(served, 1, _users(served, 8), posts)
    assert set(recall) == {"inner_product", "content", "neighbours", "similar_posts"}
    for quality in recall.values():
        assert 0 < quality.recall <= 1 and 0 <= quality.missed <= 1
        assert quality.distance_gap >= -1e-6  # the index never beats the scan
    # Never a prepared probe: psycopg prepares a statement after five runs, and its plan would
    # outlive `enable_indexscan = off` (both sides would run one plan, and recall read 1.00).
    prepared = served.execute("select statement from pg_prepared_statements").fetchall()
    probes = [s for (s,) in prepared if "_vector_v1" in s and "order by" in s.lower()]
    assert not probes, prepared


def run_script(name: str, url: str, *argv: str, timeout: float = 120):
    """scripts/<name> run as a user runs it, against the database at url."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).parents[1] / "scripts" / name
    return subprocess.run(
        [sys.executable, str(script), *argv],
        env=os.environ | {"DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_the_ann_grid_script_measures_a_build(served_url: str) -> None:
    """scripts/ann_grid.py: one line per build (an HNSW graph, IVFFlat lists) and search
    setting, with a share missed, a recall in [0, 1] and a distance gap (and for lists, how many
    posts the probed lists hold), and its copy of the vectors gone afterwards."""
    import re

    def ann_grid(*argv: str):
        return run_script("ann_grid.py", served_url, *argv)

    result = ann_grid(
        "--builds", "8/32,ivf4", "--ef", "40", "--probes", "2", "--users", "5", "--k", "10"
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [x for x in result.stdout.splitlines() if x.startswith(("m ", "ivfflat "))]
    assert len(lines) == 2, result.stdout
    graph, lists = lines
    share = r"missed\s+\d+\.\d%  recall@10 (0|1)\.\d{3}  gap -?\d\.\d{5}"
    graph_line = r"^m\s+8\s+ef_construction\s+32 .* ef_search\s+40 .* "
    assert re.search(graph_line + share + "$", graph), graph
    read = re.search(
        r"^ivfflat lists\s+4 .* probes\s+2 .* " + share + r"  read\s+(\d+) / p90 ", lists
    )
    assert read, lists
    with psycopg.connect(served_url) as conn:
        (posts,) = conn.execute(
            "select count(*) from recodb.post_vector_v1 where cf is not null"
        ).fetchone()
    # 2 of 4 lists (of the inner-product probe's cf vectors): some posts, never more than all.
    assert 0 < int(read.group(2)) <= posts, (lists, posts)
    for wrong in (["--builds", "ivfx"], ["--builds", "ivf0"], ["--probes", "0"], ["--k", "0"]):
        bad = ann_grid(*wrong)
        assert bad.returncode == 2 and "Traceback" not in bad.stderr, (wrong, bad.stderr)
    with psycopg.connect(served_url) as conn:
        assert conn.execute("select to_regclass('public.ann_grid_posts')").fetchone()[0] is None


def test_ab_functions_times_a_setting_and_undoes_it(served_url: str, served) -> None:
    """scripts/ab_functions.py --set: arm "now" runs with the function's setting changed (as
    the catalogue shows it), both arms are timed in each pair, and the working tree's
    definition, its own settings, holds again afterwards."""
    import re

    def ab(*argv: str):
        return run_script("ab_functions.py", served_url, *argv, timeout=300)

    def probes() -> list[str]:
        (config,) = served.execute(
            "select proconfig from pg_proc where proname = 'slate_parts'"
        ).fetchone()
        return [c for c in config if c.startswith("ivfflat.probes=")]

    assert probes() == ["ivfflat.probes=5"]
    result = ab(
        "--before", "HEAD", "sql/internal/slate_parts.sql", "--set", "slate_parts:ivfflat.probes=3",
        "--pairs", "2", "--users", "3",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "now: slate_parts: ivfflat.probes=3" in result.stdout, result.stdout
    pairs = [x for x in result.stdout.splitlines() if x.startswith("pair ")]
    assert len(pairs) == 2, result.stdout
    for line in pairs:
        assert re.search(r"before \d+\.\d\d ms", line) and re.search(r"now \d+\.\d\d ms", line), (
            line
        )
    assert probes() == ["ivfflat.probes=5"]
    for wrong in ("slate_parts:ivfflat.probes", "ivfflat.probes=3", "nosuch:ivfflat.probes=3"):
        bad = ab("--before", "HEAD", "sql/internal/slate_parts.sql", "--set", wrong, "--pairs", "1")
        assert bad.returncode != 0 and "Traceback" not in bad.stderr, (wrong, bad.stderr)
    assert probes() == ["ivfflat.probes=5"]


def test_the_statement_profile_script_says_what_it_needs(served_url: str) -> None:
    """scripts/statement_profile.py needs pg_stat_statements loaded at server start: without it,
    exit code 2 and one line saying so, no traceback."""
    result = run_script("statement_profile.py", served_url, "--slates", "5")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "pg_stat_statements" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_bench_computes_the_fresh_slates_it_times(served_url: str, served) -> None:
    """A precomputed slate serves its first page as a lookup: bench drops its users'
    precomputed slates before timing fresh ones, so each it times is computed then."""
    from recodb import db
    from recodb.evaluation import bench

    served.execute("delete from recodb.slate")
    (stored,) = served.execute("select users from recodb.precompute(3650)").fetchone()
    assert stored > 0
    started = served.execute("select clock_timestamp()").fetchone()[0]
    # (More users than the 50 it warms up with: a warm-up call uses a precomputed page too.)
    bench.run(db.Database(served_url, embedded=False), queries=60)
    users = [
        r[0] for r in served.execute("select id from users order by md5(id::text || '42') limit 60")
    ]
    generated = served.execute(
        "select count(*) filter (where generated_at >= %s), count(*) from recodb.slate"
        " where user_id = any(%s)",
        (started, users),
    ).fetchone()
    served.execute("delete from recodb.slate where precomputed")  # as the other tests found it
    assert generated == (60, 60)
