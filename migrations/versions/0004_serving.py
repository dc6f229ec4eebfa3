"""Serving: engagement views, the slate columns, serving settings, and the two feed roles.

- Materialized views recodb.post_engagement, recodb.trending_post, recodb.author_popularity,
  recodb.fresh_post and recodb.user_recent_likes, each with the unique index
  `refresh ... concurrently` needs.
- user_recommendation gains `reason` and `model_version` (recorded, so a downgrade removes
  them from a table that existed before recodb).
- recodb.setting gains `kind`, which says how a value is validated.
- NOLOGIN roles recodb_feed_reader and recodb_tracker; they may use schema recodb and execute
  the functions granted to them in sql/, and nothing else.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import json

from alembic import op
from psycopg import errors, sql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ROLES = ("recodb_feed_reader", "recodb_tracker")

KINDS = {
    "interaction_weights": "weights",
    "blend_weights": "weights",
    "recency_half_life_hours": "positive",
    "training_half_life_days": "positive",
    "keep_model_versions": "whole",
}

SETTINGS = {
    "trending_window_hours": (48, "positive", "Interactions younger than this count for trending"),
    "trending_half_life_hours": (
        12,
        "positive",
        "Age in hours at which an interaction's weight in trending has halved",
    ),
    "slate_size": (
        100,
        "whole",
        "Posts computed per feed slate (offset 0); later pages read the stored slate",
    ),
    "slate_ttl_seconds": (900, "positive", "How long a stored slate serves later pages"),
    "max_posts_per_author": (3, "whole", "At most this many posts of one author per slate"),
    "candidates_per_source": (
        60,
        "whole",
        "Candidates taken from each source (nearest posts, neighbours, fresh, trending)",
    ),
    "neighbour_count": (20, "whole", "Nearest users whose recent likes become candidates"),
    "fresh_post_hours": (
        72,
        "positive",
        "Posts newer than the model and than this many hours are candidates as fresh posts",
    ),
}

VIEWS = """
create materialized view recodb.post_engagement as
select i.post_id,
       count(*) filter (where i.interaction_type = 'view') as views,
       count(*) filter (where i.interaction_type = 'click') as clicks,
       count(*) filter (where i.interaction_type = 'like') as likes,
       count(*) filter (where i.interaction_type = 'comment') as comments,
       count(*) filter (where i.interaction_type = 'share') as shares,
       sum((w.value ->> i.interaction_type)::float8) as engagement,
       max(i.created_at) as last_interaction_at
from user_interaction i
cross join (select value from recodb.setting where key = 'interaction_weights') w
group by i.post_id;
create unique index post_engagement_post_id on recodb.post_engagement (post_id);
comment on materialized view recodb.post_engagement is
    'Per post: interaction counts and type-weighted engagement (refreshed by recodb.refresh())';

create materialized view recodb.trending_post as
with s as (
    select (select value from recodb.setting where key = 'interaction_weights') as weights,
           (select value::float8 from recodb.setting where key = 'trending_half_life_hours')
               as half_life,
           (select value::float8 from recodb.setting where key = 'trending_window_hours')
               as window_hours
)
select i.post_id,
       sum((s.weights ->> i.interaction_type)::float8
           * exp(ln(0.5) * extract(epoch from now() - i.created_at) / 3600.0 / s.half_life))
           as velocity
from user_interaction i, s
where i.created_at > now() - make_interval(hours => s.window_hours::integer)
group by i.post_id;
create unique index trending_post_post_id on recodb.trending_post (post_id);
create index trending_post_velocity on recodb.trending_post (velocity desc, post_id);
comment on materialized view recodb.trending_post is
    'Engagement velocity: type-weighted interactions of the trending window, each halved every '
    'trending_half_life_hours of age at refresh time';

create materialized view recodb.author_popularity as
select a.author_id,
       coalesce(f.followers, 0) as followers,
       coalesce(e.engagement, 0) as engagement,
       ln(1 + coalesce(f.followers, 0)) + ln(1 + coalesce(e.engagement, 0)) as popularity
from (select distinct author_id from posts where author_id is not null) a
left join (select followee_id, count(*) as followers from follows group by followee_id) f
    on f.followee_id = a.author_id
left join (select p.author_id, sum(pe.engagement) as engagement
           from recodb.post_engagement pe join posts p on p.id = pe.post_id
           group by p.author_id) e
    on e.author_id = a.author_id;
create unique index author_popularity_author_id on recodb.author_popularity (author_id);

create materialized view recodb.fresh_post as
select p.id as post_id, p.author_id, p.created_at, a.popularity
from posts p
join recodb.author_popularity a on a.author_id = p.author_id
where p.created_at > least(
    (select m.trained_to from recodb.model m where m.status = 'active'),
    now() - make_interval(hours => (select value::integer from recodb.setting
                                    where key = 'fresh_post_hours')));
create unique index fresh_post_post_id on recodb.fresh_post (post_id);
create index fresh_post_popularity on recodb.fresh_post (popularity desc, created_at desc, post_id);
comment on materialized view recodb.fresh_post is
    'Posts newer than the active model or than fresh_post_hours (whichever reaches further), '
    'with their author''s popularity (fresh candidates in recommend())';

create materialized view recodb.user_recent_likes as
select r.user_id, array_agg(r.post_id order by r.created_at desc, r.post_id) as post_ids
from (
    select i.user_id, i.post_id, i.created_at,
           row_number() over (partition by i.user_id order by i.created_at desc, i.post_id) as nth
    from user_interaction i
    where i.interaction_type in ('like', 'comment', 'share')
) r
where r.nth <= 20
group by r.user_id;
create unique index user_recent_likes_user_id on recodb.user_recent_likes (user_id);
comment on materialized view recodb.user_recent_likes is
    'Per user: the 20 posts they most recently liked, commented on or shared (neighbour '
    'candidates in recommend())';
create index author_popularity_popularity on recodb.author_popularity (popularity desc, author_id);
comment on materialized view recodb.author_popularity is
    'Per author: followers, engagement on their posts, popularity = ln(1+followers) + '
    'ln(1+engagement)';
"""


def _conn():
    return op.get_bind().connection.driver_connection


def upgrade() -> None:
    conn = _conn()
    conn.execute("alter table recodb.setting add column kind text")
    for key, kind in KINDS.items():
        conn.execute("update recodb.setting set kind = %s where key = %s", (kind, key))
    conn.execute("alter table recodb.setting disable trigger user")  # see 0003
    for key, (value, kind, description) in SETTINGS.items():
        conn.execute(
            "insert into recodb.setting (key, value, kind, description) values (%s, %s, %s, %s)",
            (key, json.dumps(value), kind, description),
        )
    conn.execute("alter table recodb.setting enable trigger user")
    conn.execute(
        "alter table recodb.setting alter column kind set not null,"
        " add constraint setting_kind_check check (kind in ('weights', 'positive', 'whole'))"
    )

    for column, definition in (("reason", "text"), ("model_version", "integer")):
        exists = conn.execute(
            "select exists (select from pg_attribute"
            " where attrelid = 'user_recommendation'::regclass"
            " and attname = %s and not attisdropped)",
            (column,),
        ).fetchone()[0]
        if not exists:
            conn.execute(
                sql.SQL("alter table user_recommendation add column {} {}").format(
                    sql.Identifier(column), sql.SQL(definition)
                )
            )
            conn.execute(
                "insert into recodb.installed_object (kind, name) values ('column', %s)",
                (f"user_recommendation.{column}",),
            )

    op.execute(VIEWS)

    for role in ROLES:
        if not conn.execute(
            "select exists (select from pg_roles where rolname = %s)", (role,)
        ).fetchone()[0]:
            conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(role)))
            conn.execute(
                "insert into recodb.installed_object (kind, name) values ('role', %s)", (role,)
            )
        conn.execute(sql.SQL("grant usage on schema recodb to {}").format(sql.Identifier(role)))
    # Functions are executable by PUBLIC by default; in schema recodb only grants count. (A
    # per-schema ALTER DEFAULT PRIVILEGES ... REVOKE can't take away a global default, so
    # recodb/schema.py revokes again after every upgrade, which keeps later functions closed.)
    conn.execute("revoke execute on all functions in schema recodb from public")


def downgrade() -> None:
    conn = _conn()
    for role in ROLES:
        if conn.execute(
            "select exists (select from pg_roles where rolname = %s)", (role,)
        ).fetchone()[0]:
            conn.execute(sql.SQL("drop owned by {}").format(sql.Identifier(role)))
    created = [
        r[0]
        for r in conn.execute(
            "delete from recodb.installed_object where kind = 'role' returning name"
        ).fetchall()
    ]
    for role in created:
        # Roles are shared by all databases of the server: another database may still grant
        # this one something, and then it stays.
        conn.execute("savepoint drop_role")
        try:
            conn.execute(sql.SQL("drop role {}").format(sql.Identifier(role)))
            conn.execute("release savepoint drop_role")
        except errors.DependentObjectsStillExist:
            conn.execute("rollback to savepoint drop_role")

    op.execute(
        """
        drop materialized view recodb.user_recent_likes;
        drop materialized view recodb.fresh_post;
        drop materialized view recodb.author_popularity;
        drop materialized view recodb.trending_post;
        drop materialized view recodb.post_engagement;
        """
    )
    for (name,) in conn.execute(
        "delete from recodb.installed_object where kind = 'column'"
        " and name like 'user\\_recommendation.%%' returning name"
    ).fetchall():
        column = name.split(".", 1)[1]
        conn.execute(
            sql.SQL("alter table user_recommendation drop column {}").format(sql.Identifier(column))
        )
    conn.execute("delete from recodb.setting where key = any(%s)", (list(SETTINGS),))
    conn.execute("alter table recodb.setting drop constraint setting_kind_check")
    conn.execute("alter table recodb.setting drop column kind")
