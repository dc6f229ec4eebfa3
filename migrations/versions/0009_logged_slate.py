"""Slates replicate: recodb.slate becomes a logged table, so that a hot standby reads the slates
the primary stored (precomputed first pages, and later pages of slates begun on the primary)
instead of computing each one.

The price is WAL on the primary: one slate row (about 5 kB for 100 posts) per fresh slate.
A standby still stores nothing: it serves a slate it finds, and computes (without storing)
what it doesn't.

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

COMMENT = (
    "One feed slate per user, best first (recommend() computes and stores it; later pages read "
    "it). Logged, so that hot standbys read it too; without foreign keys: a slate is a cache"
)
UNLOGGED_COMMENT = (
    "One feed slate per user, best first (recommend() computes and stores it; later pages read "
    "it). Unlogged and without foreign keys: a lost slate is recomputed"
)


def _conn():
    return op.get_bind().connection.driver_connection


def upgrade() -> None:
    conn = _conn()
    conn.execute("alter table recodb.slate set logged")
    conn.execute(sql.SQL("comment on table recodb.slate is {}").format(sql.Literal(COMMENT)))


def downgrade() -> None:
    conn = _conn()
    conn.execute("alter table recodb.slate set unlogged")
    conn.execute(
        sql.SQL("comment on table recodb.slate is {}").format(sql.Literal(UNLOGGED_COMMENT))
    )
