"""Trained models: registry columns for vectors and tuning, training settings.

Each model version's vectors live in their own tables (sql/internal/model_table_name.sql names
them), made by `recodb train` (their dimensions differ between versions, and an HNSW index
needs a fixed dimension). Activating a version is an update of one registry row,
so readers switch atomically and are never blocked.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import json

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SETTINGS = {
    "training_half_life_days": (
        14,
        "Age in days at which an interaction's weight in training has halved",
    ),
    "keep_model_versions": (
        3,
        "Trained versions kept for rollback besides the active one; older ones are pruned",
    ),
}


def upgrade() -> None:
    op.execute(
        """
        alter table recodb.model
            add column factors integer,
            add column content_dims integer,
            add column fold_in real[],
            add column tuning jsonb;
        comment on column recodb.model.fold_in is
            'Row-major inverse of (Y''Y + regularization * I) over the post vectors Y: '
            'folds a new user''s interactions into a vector without retraining';
        comment on column recodb.model.tuning is
            'The hyperparameter search that chose params (recodb train --tune), if any';
        """
    )
    conn = op.get_bind().connection.driver_connection
    # The validating trigger in the database may predate these keys (sql/ is re-applied only
    # at the end of the upgrade); the defaults are ours and valid.
    conn.execute("alter table recodb.setting disable trigger user")
    for key, (value, description) in SETTINGS.items():
        conn.execute(
            "insert into recodb.setting (key, value, description) values (%s, %s, %s)",
            (key, json.dumps(value), description),
        )
    conn.execute("alter table recodb.setting enable trigger user")


def downgrade() -> None:
    conn = op.get_bind().connection.driver_connection
    # sql/ is re-applied after the downgrade steps, so recodb.drop_model_tables() exists here.
    conn.execute("select recodb.drop_model_tables(version, 60) from recodb.model")
    conn.execute("delete from recodb.model")
    conn.execute("delete from recodb.setting where key = any(%s)", (list(SETTINGS),))
    op.execute(
        """
        alter table recodb.model
            drop column factors,
            drop column content_dims,
            drop column fold_in,
            drop column tuning;
        """
    )
