"""Schema management: alembic migrations plus the SQL objects kept in `sql/`.

Migrations (append-only) own tables, indexes, roles and materialized views. The functions and
views in `sql/` (one object per file, named after it) are re-applied with `create or replace`
at the end of every upgrade, inside the migration's transaction. A file may start with
`-- requires: <revision>`; it is applied only once that revision is, and dropped again when a
downgrade goes below it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from recodb.config import source_path
from recodb.db import DatabaseError

if TYPE_CHECKING:
    from alembic.config import Config

# alembic is imported where it is used: importing it costs about a second, which every CLI
# command would otherwise pay.

VERSION_TABLE = "recodb_alembic_version"
SCHEMA = "recodb"
MIGRATION_LOCK = "recodb.migrate"
OWNER_ROLE = "recodb_owner"
_REQUIRES = re.compile(r"^--\s*requires:\s*(\S+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class SqlObject:
    """One file of `sql/`: the object `recodb.<name>` and the revision it needs."""

    name: str
    path: Path
    requires: str | None

    @property
    def text(self) -> str:
        return self.path.read_text()


def sql_objects(sql_dir: Path | None = None) -> list[SqlObject]:
    """The files of `sql/` (api/, admin/, internal/) in the order they are applied (by name)."""
    sql_dir = sql_dir or source_path("sql")
    objects = []
    for path in sorted(sql_dir.rglob("*.sql"), key=lambda p: p.name):
        match = _REQUIRES.search(path.read_text())
        objects.append(SqlObject(path.stem, path, match.group(1) if match else None))
    return objects


def alembic_config(url: str | None = None) -> Config:
    from alembic.config import Config

    cfg = Config(str(source_path("alembic.ini")))
    cfg.set_main_option("script_location", str(source_path("migrations")))
    if url is not None:
        cfg.attributes["recodb_url"] = url
    return cfg


def applied_revisions(cfg: Config, heads: Iterable[str]) -> set[str]:
    """Every revision at or below `heads`."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(cfg)
    heads = tuple(heads)
    if not heads:
        return set()
    return {rev.revision for rev in script.iterate_revisions(heads, "base")}


def sync_sql_objects(conn: psycopg.Connection, applied: set[str]) -> tuple[int, int]:
    """Apply the `sql/` objects whose revision is in place; drop those whose is not.

    Runs inside the caller's transaction. Returns (applied, dropped) counts.
    """
    # As pg_dump does: function bodies may name objects defined in later files.
    conn.execute("set local check_function_bodies = off")
    # Functions SET hnsw.* and ivfflat.* parameters: a role that is not a superuser may do so
    # only once pgvector's library is loaded and has defined them.
    if conn.execute("select to_regtype('public.vector') is not null").fetchone()[0]:
        conn.execute("select '[0]'::public.vector")
    n_applied = n_dropped = 0
    for obj in sql_objects():
        if obj.requires is None or obj.requires in applied:
            conn.execute(obj.text)
            n_applied += 1
        elif _drop_object(conn, obj.name):
            n_dropped += 1
    if not conn.execute("select to_regnamespace(%s) is null", (SCHEMA,)).fetchone()[0]:
        # A function no file defines any more (its signature changed, or its file went) would
        # linger with its grants: every function of the schema that this transaction did not
        # just create or replace goes.
        for (signature,) in conn.execute(
            "select p.oid::regprocedure::text from pg_proc p"
            " where p.pronamespace = %s::regnamespace and age(p.xmin) > 0",
            (SCHEMA,),
        ).fetchall():
            conn.execute(sql.SQL("drop function {} cascade").format(sql.SQL(signature)))
            n_dropped += 1
        # The engine's functions belong to recodb_owner (revision 0006), a NOLOGIN role with
        # only the privileges they need: `security definer` never means superuser.
        if conn.execute("select to_regrole(%s) is not null", (OWNER_ROLE,)).fetchone()[0]:
            for (signature,) in conn.execute(
                "select p.oid::regprocedure::text from pg_proc p"
                " where p.pronamespace = %s::regnamespace and p.proowner <> %s::regrole",
                (SCHEMA, OWNER_ROLE),
            ).fetchall():
                conn.execute(
                    sql.SQL("alter function {} owner to {}").format(
                        sql.SQL(signature), sql.Identifier(OWNER_ROLE)
                    )
                )
        # Functions are executable by PUBLIC unless revoked: in schema recodb only explicit
        # grants count, whatever a file forgot.
        conn.execute(
            sql.SQL("revoke execute on all functions in schema {} from public").format(
                sql.Identifier(SCHEMA)
            )
        )
    return n_applied, n_dropped


def _drop_object(conn: psycopg.Connection, name: str) -> bool:
    if conn.execute("select to_regnamespace(%s) is null", (SCHEMA,)).fetchone()[0]:
        return False
    dropped = False
    for (signature,) in conn.execute(
        "select p.oid::regprocedure::text from pg_proc p"
        " where p.pronamespace = %s::regnamespace and p.proname = %s",
        (SCHEMA, name),
    ).fetchall():
        conn.execute(sql.SQL("drop function {} cascade").format(sql.SQL(signature)))
        dropped = True
    relkind = conn.execute(
        "select relkind from pg_class where relnamespace = %s::regnamespace and relname = %s",
        (SCHEMA, name),
    ).fetchone()
    if relkind and relkind[0] == "v":
        conn.execute(
            sql.SQL("drop view {}.{} cascade").format(*map(sql.Identifier, (SCHEMA, name)))
        )
        dropped = True
    return dropped


def load_revision(filename: str):
    """A migration module by file name, for a later revision that reuses an earlier one's
    definitions (the one it replaces, to restore them on downgrade)."""
    import importlib.util

    path = source_path("migrations", "versions", filename)
    spec = importlib.util.spec_from_file_location(f"recodb_migration_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade(url: str, revision: str = "head") -> None:
    _run("upgrade", url, revision)


def downgrade(url: str, revision: str) -> None:
    _run("downgrade", url, revision)


def _run(action: str, url: str, revision: str) -> None:
    from alembic import command
    from alembic.util import CommandError

    try:
        getattr(command, action)(alembic_config(url), revision)
    except CommandError as exc:
        raise DatabaseError(str(exc)) from exc


def current_revision(conn: psycopg.Connection) -> str | None:
    """The revision the database is at; None for an empty (or pre-recodb) database."""
    exists = conn.execute("select to_regclass(%s) is not null", (VERSION_TABLE,)).fetchone()[0]
    if not exists:
        return None
    row = conn.execute(
        sql.SQL("select version_num from {}").format(sql.Identifier(VERSION_TABLE))
    ).fetchone()
    return row[0] if row else None


_REVISION = re.compile(r"^(down_revision|revision)\s*=\s*(None|\"[^\"]*\")", re.MULTILINE)


def head_revision() -> str:
    """The newest revision, read from migrations/versions without importing alembic.

    Revisions form one chain (tests check this equals alembic's own head).
    """
    revisions, parents = set(), set()
    for path in source_path("migrations", "versions").glob("*.py"):
        fields = dict(_REVISION.findall(path.read_text()))
        revisions.add(fields["revision"].strip('"'))
        if fields.get("down_revision", "None") != "None":
            parents.add(fields["down_revision"].strip('"'))
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"migrations must form one chain; heads: {sorted(heads)}")
    return heads.pop()
