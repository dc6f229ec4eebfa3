"""Serving views per model version: schema recodb_v<N> with views post_vector and user_vector.

The scoring functions (slate_parts, user_taste) read a version's vectors through these views,
with the version's schema put on their search_path, instead of dynamic SQL that named the
version's tables: their statements are then planned once per connection rather than parsed and
planned on every call (0.81 ms of a 6.99 ms fresh slate at 20k users × 200k posts, 0.49 of
9.37 at 100k × 1M, measured with scripts/ab_functions.py). New versions get their views from
create_model_tables(); this revision gives them to the versions trained before it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from alembic import op

from recodb import schema

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# The functions that make and drop the views: sql/ is applied after the migrations, so they are
# defined here first.
FUNCTIONS = ("model_table_name", "model_schema_name", "create_model_views", "drop_model_views")


def _conn():
    return op.get_bind().connection.driver_connection


def _versions_with_tables(conn) -> list[int]:
    return [
        version
        for (version,) in conn.execute(
            "select version from recodb.model"
            " where to_regclass(recodb.model_table_name('post', version)) is not null"
            "   and to_regclass(recodb.model_table_name('user', version)) is not null"
            " order by version"
        ).fetchall()
    ]


def _define_functions(conn) -> None:
    for obj in schema.sql_objects():
        if obj.name in FUNCTIONS:
            conn.execute(obj.text)


def upgrade() -> None:
    conn = _conn()
    _define_functions(conn)
    for version in _versions_with_tables(conn):
        conn.execute("select recodb.create_model_views(%s)", (version,))


def downgrade() -> None:
    conn = _conn()
    _define_functions(conn)
    conn.execute("select recodb.drop_model_views(version) from recodb.model")
