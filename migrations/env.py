"""Alembic environment: one transaction per run, serialised by an advisory lock, ending with
the `sql/` objects re-applied (see recodb/schema.py)."""

from __future__ import annotations

from logging.config import fileConfig

import psycopg
from alembic import context
from alembic.util import CommandError
from psycopg import sql
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from recodb import db, schema

config = context.config
if config.config_file_name and "recodb_url" not in config.attributes:
    # Run by the alembic command: use alembic.ini's logging (recodb prints its own lines).
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    url = config.attributes.get("recodb_url")
    if url:
        return url
    try:
        return db.resolve().url
    except db.DatabaseError as exc:
        raise CommandError(str(exc)) from exc


def run_migrations_online() -> None:
    url = _url()
    # psycopg takes any conninfo (URLs with a socket host, key=value strings) as it is.
    engine = create_engine(
        "postgresql+psycopg://", creator=lambda: psycopg.connect(url), poolclass=NullPool
    )
    with engine.connect() as connection:
        raw = connection.connection.driver_connection
        try:
            db.require_pgvector(raw)
        except db.DatabaseError as exc:
            raise CommandError(str(exc)) from exc
        context.configure(
            connection=connection,
            version_table=schema.VERSION_TABLE,
            transactional_ddl=True,
            transaction_per_migration=False,
        )
        with context.begin_transaction():
            # Two installs at once: the second waits, then finds nothing left to do.
            raw.execute("select pg_advisory_xact_lock(hashtext(%s))", (schema.MIGRATION_LOCK,))
            context.run_migrations()
            heads = context.get_context().get_current_heads()
            schema.sync_sql_objects(raw, schema.applied_revisions(config, heads))
            if not heads:
                # Down to base: leave nothing behind, not even alembic's bookkeeping.
                raw.execute(
                    sql.SQL("drop table if exists {}").format(sql.Identifier(schema.VERSION_TABLE))
                )


if context.is_offline_mode():
    raise CommandError("recodb migrations run online only (they inspect the database)")
run_migrations_online()
