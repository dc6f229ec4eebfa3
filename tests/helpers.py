"""Small helpers shared by the tests."""

from __future__ import annotations

import re
import subprocess

import psycopg
from psycopg import sql

from recodb import embedded


def count(conn: psycopg.Connection, table: str) -> int:
    return conn.execute(sql.SQL("select count(*) from {}").format(sql.SQL(table))).fetchone()[0]


def dump_schema(url: str) -> str:
    """`pg_dump --schema-only` of the database, normalised: no comments, SETs or blank runs."""
    out = subprocess.run(
        [str(embedded.binary("pg_dump")), "--schema-only", "--no-owner", "-d", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = []
    for line in out.splitlines():
        if line.startswith(
            ("--", "SET ", "SELECT pg_catalog.set_config", "\\restrict", "\\unrestrict")
        ):
            continue
        lines.append(line.rstrip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def server_major(conn: psycopg.Connection) -> int:
    return conn.info.server_version // 10000
