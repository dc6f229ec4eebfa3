"""Mixed load while operators work: feed reads as both app roles and tracking from several
threads while refresh, training with activation, rollback and `prune --keep 0` run; readers
during `seed --replace`. Zero errors on the readers, every tracked interaction stored, and no
feed that mixes the old data with the new."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from conftest import served_database
from psycopg import sql

from recodb.data import load as loading
from recodb.data.generate import generate
from recodb.training import registry
from recodb.training.fit import Params
from recodb.training.train import train


@pytest.fixture
def served_url(server_url: str, template_url: str) -> Iterator[str]:
    yield from served_database(
        server_url, size=(150, 1200, 12_000), seed=23, topics=5, days=7, iterations=5
    )


def _login(url: str, role: str) -> psycopg.Connection:
    conn = psycopg.connect(url, autocommit=True)
    conn.execute(sql.SQL("set role {}").format(sql.Identifier(role)))
    return conn


def test_mixed_load_while_operators_work(served_url: str) -> None:
    with psycopg.connect(served_url, autocommit=True) as admin:
        users = [r[0] for r in admin.execute("select id from users order by id limit 60")]
        posts = [r[0] for r in admin.execute("select id from posts order by id limit 200")]
        before = admin.execute("select count(*) from user_interaction").fetchone()[0]
    stop = threading.Event()
    errors: list[BaseException] = []
    tracked = [0]
    reads = [0]
    lock = threading.Lock()

    def reader(role: str, n: int) -> None:
        with _login(served_url, role) as conn:
            i = n
            while not stop.is_set():
                try:
                    user = users[i % len(users)]
                    conn.execute("select * from recodb.recommend(%s, 20)", (user,)).fetchall()
                    conn.execute("select * from recodb.recommend(%s, 20, 20)", (user,)).fetchall()
                    conn.execute(
                        "select * from recodb.similar_posts(%s, 5)", (posts[i % len(posts)],)
                    ).fetchall()
                    conn.execute("select * from recodb.trending(10)").fetchall()
                    with lock:
                        reads[0] += 1
                except BaseException as exc:  # every failure counts
                    errors.append(exc)
                i += 7

    def tracker(n: int) -> None:
        with _login(served_url, "recodb_tracker") as conn:
            i = n
            while not stop.is_set():
                try:
                    conn.execute(
                        "select recodb.track_interaction(%s, %s, %s)",
                        (users[i % len(users)], posts[(i * 3) % len(posts)],
                         ("view", "click", "like")[i % 3]),
                    )  # fmt: skip
                    with lock:
                        tracked[0] += 1
                except BaseException as exc:
                    errors.append(exc)
                i += 5

    threads = [
        threading.Thread(target=reader, args=("recodb_feed_reader", 0)),
        threading.Thread(target=reader, args=("recodb_tracker", 3)),
        threading.Thread(target=tracker, args=(1,)),
        threading.Thread(target=tracker, args=(2,)),
    ]
    for t in threads:
        t.start()
    try:
        with psycopg.connect(served_url, autocommit=True) as admin:
            admin.execute("select recodb.refresh()").fetchall()
            first = registry.active_version(admin)
            second = train(admin, Params(factors=6, content_dims=4, iterations=4, seed=3),
                           validate=False).version  # fmt: skip
            admin.execute("select recodb.refresh()").fetchall()
            assert registry.rollback(admin) == first
            registry.activate(admin, second)
            registry.prune(admin, keep=0)
            admin.execute("select recodb.refresh()").fetchall()
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == [], errors[:3]
    assert reads[0] > 10 and tracked[0] > 10
    with psycopg.connect(served_url) as admin:
        after = admin.execute("select count(*) from user_interaction").fetchone()[0]
    assert after == before + tracked[0]


def test_readers_during_seed_replace(served_url: str) -> None:
    """A feed is of the old data or of the new one, never an error or a mix of both."""
    with psycopg.connect(served_url, autocommit=True) as admin:
        old_posts = {r[0] for r in admin.execute("select id from posts")}
        user = admin.execute("select id from users order by id limit 1").fetchone()[0]
    new = generate(120, 900, 8_000, seed=99, topics=4, days=5)
    new_posts = {uuid.UUID(bytes=b.tobytes()) for b in new.post_id}
    stop = threading.Event()
    errors: list[BaseException] = []
    feeds: list[set] = []

    def reader() -> None:
        with _login(served_url, "recodb_feed_reader") as conn:
            while not stop.is_set():
                try:
                    feeds.append({r[0] for r in conn.execute(
                        "select post_id from recodb.recommend(%s, 20)", (user,)
                    )})  # fmt: skip
                except BaseException as exc:
                    errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        with psycopg.connect(served_url) as admin:
            loading.load(admin, new, replace=True)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == [], errors[:3]
    assert feeds
    for feed in feeds:
        assert feed <= old_posts or feed <= new_posts
