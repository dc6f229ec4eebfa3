"""Loading millions of rows fast, in one transaction that either commits all or nothing.

The pattern is pg_restore's: truncate the target tables (with wal_level=minimal, rows COPYed
into a table truncated in the same transaction skip the WAL), drop their keys, indexes and
foreign keys, COPY, then rebuild each from its saved definition and ANALYZE.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql


@dataclass(frozen=True)
class _Saved:
    table: str
    name: str
    kind: str  # 'p' primary key, 'u' unique, 'f' foreign key, 'i' plain index
    definition: str

    def drop(self) -> sql.Composable:
        if self.kind == "i":
            return sql.SQL("drop index {}").format(sql.Identifier(*self._schema_name()))
        return sql.SQL("alter table {} drop constraint {}").format(
            sql.SQL(self.table), sql.Identifier(self.name)
        )

    def create(self) -> sql.Composable:
        if self.kind == "i":
            return sql.SQL(self.definition)
        return sql.SQL("alter table {} add constraint {} {}").format(
            sql.SQL(self.table), sql.Identifier(self.name), sql.SQL(self.definition)
        )

    def _schema_name(self) -> tuple[str, str]:
        schema = self.table.split(".")[0] if "." in self.table else "public"
        return schema, self.name


def _saved_objects(conn: psycopg.Connection, tables: Sequence[str]) -> list[_Saved]:
    """Keys and indexes of `tables`, and foreign keys on or into them, in drop order."""
    oids = [conn.execute("select %s::regclass::oid", (t,)).fetchone()[0] for t in tables]
    constraints = conn.execute(
        """
        select c.conrelid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid)
        from pg_constraint c
        where (c.contype in ('p', 'u') and c.conrelid = any(%(oids)s))
           or (c.contype = 'f' and (c.conrelid = any(%(oids)s) or c.confrelid = any(%(oids)s)))
        order by c.contype = 'f' desc, c.conrelid::regclass::text, c.conname
        """,
        {"oids": oids},
    ).fetchall()
    indexes = conn.execute(
        """
        select i.indrelid::regclass::text, ic.relname, pg_get_indexdef(i.indexrelid)
        from pg_index i
        join pg_class ic on ic.oid = i.indexrelid
        where i.indrelid = any(%(oids)s)
          and not exists (select from pg_constraint c where c.conindid = i.indexrelid)
        order by 1, 2
        """,
        {"oids": oids},
    ).fetchall()
    foreign = [_Saved(*row) for row in constraints if row[2] == "f"]
    keys = [_Saved(*row) for row in constraints if row[2] != "f"]
    plain = [_Saved(table, name, "i", definition) for table, name, definition in indexes]
    return foreign + plain + keys


@contextmanager
def bulk_load(
    conn: psycopg.Connection,
    tables: Sequence[str],
    *,
    on_step: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Empty `tables` and make them cheap to fill; on exit rebuild keys and indexes, ANALYZE.

    Must run inside a transaction (the caller's `conn.transaction()`); any error rolls all of
    it back, the truncation included.
    """
    step = on_step or (lambda _: None)
    conn.execute(
        sql.SQL("truncate {} cascade").format(sql.SQL(", ").join(sql.SQL(t) for t in tables))
    )
    saved = _saved_objects(conn, tables)
    for obj in saved:
        conn.execute(obj.drop())
    yield
    conn.execute("set local maintenance_work_mem = '1GB'")
    conn.execute("set local max_parallel_maintenance_workers = 2")
    for obj in reversed(saved):
        step(f"{'index' if obj.kind == 'i' else 'constraint'} {obj.name}")
        conn.execute(obj.create())
    for table in tables:
        step(f"analyze {table}")
        conn.execute(sql.SQL("analyze {}").format(sql.SQL(table)))


@contextmanager
def engagement_suspended(conn: psycopg.Connection) -> Iterator[None]:
    """Load user_interaction without its engagement triggers (an upsert per statement into an
    indexed table, and the truncate that would empty what bulk_load empties anyway); the block
    ends with `select recodb.rebuild_engagement()`, one insert of every triple, and the next
    refresh is a full one. Inside the caller's transaction, by a role that owns
    user_interaction."""
    # The triggers' names are sql/internal/engagement_*.sql's.
    for trigger in ("engagement_insert", "engagement_truncate"):
        conn.execute(sql.SQL("alter table user_interaction disable trigger {}").format(
            sql.Identifier(trigger)))  # fmt: skip
    yield
    for trigger in ("engagement_insert", "engagement_truncate"):
        conn.execute(sql.SQL("alter table user_interaction enable trigger {}").format(
            sql.Identifier(trigger)))  # fmt: skip
