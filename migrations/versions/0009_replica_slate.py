"""Slates for read replicas: recodb.replica_slate, a logged copy of the slates `recodb
precompute` stores, so that a hot standby serves an active user's feed as a lookup too.

recodb.slate stays unlogged: a fresh slate on the primary commits without waiting for a WAL
flush (1.5–2 ms on the machine this was measured on, a fifth of a fresh slate). Only precompute
writes replica_slate, in batches, so its WAL costs one flush per batch; a standby reads it and
stores nothing.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from alembic import op
from psycopg import sql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

OWNER = "recodb_owner"

TABLE = """
create table recodb.replica_slate (
    user_id uuid primary key,
    model_version integer,
    post_ids uuid[] not null,
    scores double precision[] not null,
    reasons text[] not null,
    generated_at timestamptz not null,
    expires_at timestamptz not null
);
create index replica_slate_expires_at on recodb.replica_slate (expires_at);
comment on table recodb.replica_slate is
    'The slates recodb.precompute() stored, logged so that hot standbys serve them; the '
    'primary serves from recodb.slate';
"""


def _conn():
    return op.get_bind().connection.driver_connection


def upgrade() -> None:
    conn = _conn()
    conn.execute(TABLE)
    conn.execute(
        sql.SQL("grant select, insert, update, delete on recodb.replica_slate to {}").format(
            sql.Identifier(OWNER)
        )
    )


def downgrade() -> None:
    _conn().execute("drop table recodb.replica_slate")
