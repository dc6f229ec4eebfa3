"""Which database recodb talks to, and connections to it.

`DATABASE_URL` wins; without it recodb starts (or reuses) the embedded server and its `recodb`
database. Every command goes through `resolve()`.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from recodb import embedded
from recodb.config import Settings
from recodb.errors import RecodbError

EMBEDDED_DBNAME = "recodb"


class DatabaseError(RecodbError):
    """A database problem worth a one-line message rather than a traceback."""


@dataclass(frozen=True)
class Database:
    url: str
    embedded: bool

    def connect(self, **kwargs) -> psycopg.Connection:
        try:
            return psycopg.connect(self.url, **kwargs)
        except psycopg.OperationalError as exc:
            raise DatabaseError(f"cannot connect to {redact(self.url)}: {exc}".strip()) from exc


def resolve(settings: Settings | None = None) -> Database:
    """The database in use: DATABASE_URL, else the embedded server (started when needed)."""
    settings = settings or Settings()
    if settings.database_url:
        return Database(settings.database_url, embedded=False)
    server_url = embedded.ensure_running(settings.pgdata)
    create_database_if_missing(server_url, EMBEDDED_DBNAME)
    return Database(with_dbname(server_url, EMBEDDED_DBNAME), embedded=True)


def with_dbname(url: str, dbname: str) -> str:
    """The same server as `url`, another database (returns a key=value conninfo)."""
    return make_conninfo(url, dbname=dbname)


def create_database_if_missing(server_url: str, dbname: str, template: str | None = None) -> bool:
    """Create `dbname` on the server of `server_url`; False when it already exists."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        if conn.execute("select 1 from pg_database where datname = %s", (dbname,)).fetchone():
            return False
        query = sql.SQL("create database {}").format(sql.Identifier(dbname))
        if template:
            query += sql.SQL(" template {}").format(sql.Identifier(template))
        conn.execute(query)
        return True


def redact(url: str) -> str:
    """`url` without its password, for messages."""
    params = conninfo_to_dict(url)
    if params.get("password"):
        params["password"] = "***"
    return make_conninfo(**params) if params else url


def require_pgvector(conn: psycopg.Connection) -> str:
    """The pgvector version the server offers; a DatabaseError that says how to fix it if none."""
    row = conn.execute(
        "select coalesce(installed_version, default_version)"
        " from pg_available_extensions where name = 'vector'"
    ).fetchone()
    if row is None:
        version = conn.execute("show server_version").fetchone()[0]
        raise DatabaseError(
            f"PostgreSQL {version} at {redact(conn.info.dsn)} has no pgvector extension "
            "(extension 'vector' is not available).\n"
            "Install pgvector >= 0.8 on that server (e.g. the postgresql-<major>-pgvector package, "
            "or the pgvector/pgvector:pg17 image), or unset DATABASE_URL to use recodb's "
            "embedded PostgreSQL, which ships it."
        )
    return row[0]
