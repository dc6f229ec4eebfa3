"""A real PostgreSQL with pgvector for every test.

The server: DATABASE_URL when set (its role needs CREATEDB); a testcontainers
pgvector/pgvector container when RECODB_TEST_DOCKER=1 and Docker answers; otherwise a
throw-away embedded server. Each test gets its own database, cloned from a template that was
migrated once (`create database ... template ...`), so tests are isolated and cheap.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from recodb import db, embedded, schema

TEMPLATE = f"recodb_test_template_{os.getpid()}"


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A URL of the test server (its maintenance database)."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    if os.environ.get("RECODB_TEST_DOCKER") == "1" and _docker_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("pgvector/pgvector:pg17", driver=None) as container:
            yield container.get_connection_url()
        return
    # The embedded server runs as an unprivileged user when we are root: its folder must be
    # reachable by that user, which the package arranges.
    folder = Path(tempfile.mkdtemp(prefix="recodb-test-"))
    pgdata = folder / "pgdata"
    try:
        yield embedded.ensure_running(pgdata)
    finally:
        embedded.stop(pgdata)
        shutil.rmtree(folder, ignore_errors=True)


def _drop_database(server: str, name: str) -> None:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def template_url(server_url: str) -> Iterator[str]:
    """A database migrated to head, used as the template of each test's database."""
    _drop_database(server_url, TEMPLATE)
    db.create_database_if_missing(server_url, TEMPLATE)
    url = db.with_dbname(server_url, TEMPLATE)
    schema.upgrade(url)
    yield url
    _drop_database(server_url, TEMPLATE)


def _fresh_database(server_url: str, template: str | None) -> Iterator[str]:
    name = f"recodb_test_{uuid.uuid4().hex[:12]}"
    db.create_database_if_missing(server_url, name, template=template)
    try:
        yield db.with_dbname(server_url, name)
    finally:
        _drop_database(server_url, name)


@pytest.fixture
def db_url(server_url: str, template_url: str) -> Iterator[str]:
    """A fresh database at the head revision, dropped after the test."""
    yield from _fresh_database(server_url, TEMPLATE)


@pytest.fixture
def empty_db_url(server_url: str) -> Iterator[str]:
    """A fresh database with nothing in it (not even the vector extension)."""
    yield from _fresh_database(server_url, "template0")


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection


def served_database(
    server_url: str,
    *,
    size: tuple[int, int, int],
    seed: int,
    topics: int,
    days: int,
    iterations: int = 5,
) -> Iterator[str]:
    """A fresh database with generated data of `size` (users, posts, interactions), a trained
    model (8 factors, 8 text dimensions) and refreshed views; dropped afterwards."""
    from recodb.data import load as loading
    from recodb.data.generate import generate
    from recodb.training.fit import Params
    from recodb.training.train import train

    for url in _fresh_database(server_url, TEMPLATE):
        with psycopg.connect(url, autocommit=True) as conn:
            loading.load(conn, generate(*size, seed=seed, topics=topics, days=days))
            train(conn, Params(factors=8, content_dims=8, iterations=iterations), validate=False)
            conn.execute("select recodb.refresh()")
        yield url
