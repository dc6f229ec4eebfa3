"""Learned blends: each model version may carry the blend of score parts that training learned
on its validation split, and an operator may pin the settings' blend instead.

- recodb.model.blend: {"weights": {collaborative, neighbours, content, recency, trending,
  following}, the validation NDCG@10 of the blend, of pure collaborative ranking and of the
  seed's blend, users, protocol}; null for a version that learned none (the seed's formula
  with setting blend_weights serves it).
- Setting blend_weights_pinned (0 or 1, default 0): 1 makes setting blend_weights win over
  the active model's learned blend.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

PINNED_DESCRIPTION = (
    "1: setting blend_weights scores the feed even when the active model learned a blend; "
    "0: the model's learned blend wins when it has one"
)


def _conn():
    return op.get_bind().connection.driver_connection


def upgrade() -> None:
    conn = _conn()
    conn.execute("alter table recodb.model add column blend jsonb")
    conn.execute(
        "comment on column recodb.model.blend is 'The blend of score parts learned on the "
        "validation split (weights and their validation NDCG), or null'"
    )
    conn.execute("alter table recodb.setting disable trigger user")  # see 0003
    conn.execute(
        "insert into recodb.setting (key, value, kind, description, default_value, min_value,"
        " max_value) values ('blend_weights_pinned', '0', 'whole', %s, '0', 0, 1)",
        (PINNED_DESCRIPTION,),
    )
    conn.execute("alter table recodb.setting enable trigger user")


def downgrade() -> None:
    conn = _conn()
    conn.execute("delete from recodb.setting where key = 'blend_weights_pinned'")
    conn.execute("alter table recodb.model drop column blend")
