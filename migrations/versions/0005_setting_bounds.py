"""Settings get fixed bounds and a default: a value that would take serving down is refused.

recodb.setting gains `default_value`, `min_value` and `max_value` beside `kind`. Together they
are a key's definition: sql/internal/setting_validate.sql refuses an update that changes them
(only `value` may change) and checks every value against them, so that no accepted value can
make `recommend()`, `refresh()` or training fail:
  weights   a JSON object with exactly the keys of the default, each 0 or a number within
            [min_value, max_value], not all 0 (a tiny non-zero weight times a tiny decay
            would underflow, which PostgreSQL raises as an error rather than rounding to 0)
  positive  a number within [min_value, max_value]
  whole     a whole number within [min_value, max_value]
New keys come from migrations only (the trigger refuses inserts of unknown keys): a migration
that adds one disables the table's user triggers around its insert, as 0003 and 0004 do, and
gives all five columns.

Values already stored are kept as they are, even when out of bounds (a migration does not
change an operator's choice behind their back): `recodb doctor` reports them and `recodb
settings reset KEY` restores the default.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

import json

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# key: (default, min, max). Kinds are 0004's. Trending's window over its half-life stays under
# 1,000 so that the trending view's decay never underflows; counts stay within a 500-post
# slate; half-lives and windows within ten years.
BOUNDS = {
    "interaction_weights": (
        {"view": 1, "click": 2, "like": 5, "comment": 8, "share": 10},
        0.001,
        1000,
    ),
    "blend_weights": ({"collaborative": 0.7, "content": 0.2, "recency": 0.1}, 0.001, 1000),
    "recency_half_life_hours": (48, 0.1, 87600),
    "training_half_life_days": (14, 0.1, 3650),
    "keep_model_versions": (3, 1, 100),
    "trending_window_hours": (48, 1, 720),
    "trending_half_life_hours": (12, 1, 8760),
    "slate_size": (100, 10, 500),
    "slate_ttl_seconds": (900, 1, 86400),
    "max_posts_per_author": (3, 1, 500),
    "candidates_per_source": (60, 1, 500),
    "neighbour_count": (20, 1, 100),
    "fresh_post_hours": (72, 1, 87600),
}


def upgrade() -> None:
    conn = op.get_bind().connection.driver_connection
    conn.execute(
        "alter table recodb.setting"
        " add column default_value jsonb,"
        " add column min_value numeric,"
        " add column max_value numeric"
    )
    # The trigger in the database predates these columns (sql/ is re-applied at the end).
    conn.execute("alter table recodb.setting disable trigger user")
    for key, (default, low, high) in BOUNDS.items():
        conn.execute(
            "update recodb.setting set default_value = %s, min_value = %s, max_value = %s"
            " where key = %s",
            (json.dumps(default), low, high, key),
        )
    conn.execute("alter table recodb.setting enable trigger user")
    # A key some other revision added without bounds would make `set not null` fail here,
    # naming the column: every key must have a definition.
    conn.execute(
        "alter table recodb.setting"
        " alter column default_value set not null,"
        " alter column min_value set not null,"
        " alter column max_value set not null,"
        " add constraint setting_bounds_check check (min_value <= max_value)"
    )
    conn.execute(
        "comment on column recodb.setting.default_value is"
        " 'The value `recodb settings reset` restores; fixed by migrations'"
    )
    conn.execute(
        "comment on column recodb.setting.min_value is"
        " 'Smallest accepted value (weights: of each non-zero weight); fixed by migrations'"
    )
    conn.execute(
        "comment on column recodb.setting.max_value is"
        " 'Largest accepted value (weights: of each weight); fixed by migrations'"
    )


def downgrade() -> None:
    conn = op.get_bind().connection.driver_connection
    conn.execute(
        "alter table recodb.setting"
        " drop constraint setting_bounds_check,"
        " drop column default_value,"
        " drop column min_value,"
        " drop column max_value"
    )
