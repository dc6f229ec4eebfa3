"""A refresh that costs what happened since the last one, not all of history.

- recodb.engagement: each (post, user, interaction type) once, with its newest time; kept
  current at tracking time by statement-level triggers on user_interaction (sql/internal/
  engagement_*.sql), so one insert of a million rows is one upsert, not a million. The id of
  the transaction that first added a triple (`first_xid`) lets refresh() take exactly the
  triples that arrived since it last ran (and `changed_xid`, those whose time moved).
- post_engagement, author_popularity and user_recent_likes become tables that refresh()
  advances from those new triples; trending_post becomes a table recomputed from the trending
  window alone (read from a covering index of engagement by time); fresh_post stays a
  materialized view of the fresh window. A delete or update of
  user_interaction, or a change of interaction_weights, makes the next refresh a full one;
  the numbers are always exactly those of a full recompute.
- recodb.refresh_state: the watermark (the oldest transaction still running when the last
  refresh took its snapshot), whether a full refresh is due, and when the last one ran.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from alembic import op
from psycopg import sql

from recodb import schema

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

OWNER = "recodb_owner"

TABLES = """
create table recodb.engagement (
    post_id uuid not null,
    user_id uuid not null,
    interaction_type text not null,
    last_at timestamptz not null,
    first_xid xid8 not null default pg_current_xact_id(),
    changed_xid xid8 not null default pg_current_xact_id(),
    primary key (post_id, user_id, interaction_type)
);
create index engagement_first_xid on recodb.engagement (first_xid);
create index engagement_changed_xid on recodb.engagement (changed_xid);
-- Covering: the trending window is read from the index alone.
create index engagement_last_at on recodb.engagement (last_at)
    include (post_id, interaction_type);
create index engagement_user_likes on recodb.engagement (user_id, last_at desc, post_id)
    where interaction_type in ('like', 'comment', 'share');
comment on table recodb.engagement is
    'Each (post, user, interaction type) once with its newest time, kept by triggers on '
    'user_interaction; first_xid is the transaction that first added it, changed_xid the one '
    'that last moved its time';

create table recodb.refresh_state (
    id boolean primary key default true check (id),
    engagement_xid xid8 not null default '0',
    full_needed boolean not null default true,
    engagement_stale boolean not null default false,
    weights jsonb,
    refreshed_at timestamptz
);
insert into recodb.refresh_state default values;
comment on table recodb.refresh_state is
    'refresh(): triples with first_xid below engagement_xid are counted; full_needed: count '
    'everything again; engagement_stale: rebuild engagement first (after a delete or update of '
    'user_interaction)';

create table recodb.post_engagement (
    post_id uuid primary key,
    views bigint not null default 0,
    clicks bigint not null default 0,
    likes bigint not null default 0,
    comments bigint not null default 0,
    shares bigint not null default 0,
    last_interaction_at timestamptz
);
comment on table recodb.post_engagement is
    'Per post: how many users interacted, per type (each user once); advanced by refresh()';

create table recodb.author_popularity (
    author_id uuid primary key,
    followers bigint not null default 0,
    engagement double precision not null default 0,
    popularity double precision not null default 0
);
create index author_popularity_popularity on recodb.author_popularity (popularity desc, author_id);
comment on table recodb.author_popularity is
    'Per author: followers, type-weighted engagement on their posts, popularity = '
    'ln(1+followers) + ln(1+engagement); advanced by refresh()';

create table recodb.user_recent_likes (
    user_id uuid primary key,
    post_ids uuid[] not null
);
comment on table recodb.user_recent_likes is
    'Per user: the 20 posts they most recently liked, commented on or shared (neighbour '
    'candidates in recommend()); advanced by refresh()';

create table recodb.trending_post (
    post_id uuid primary key,
    velocity double precision not null
);
create index trending_post_velocity on recodb.trending_post (velocity desc, post_id);
comment on table recodb.trending_post is
    'Engagement velocity: type-weighted interactions of the trending window (each user once per '
    'post and type), each halved every trending_half_life_hours of age at refresh time '
    '(recomputed by refresh() from the window alone)';

create materialized view recodb.fresh_post as
select p.id as post_id, p.author_id, p.created_at, coalesce(a.popularity, 0) as popularity
from posts p
left join recodb.author_popularity a on a.author_id = p.author_id
where p.author_id is not null
  and p.created_at > least(
    (select m.trained_to from recodb.model m where m.status = 'active'),
    now() - make_interval(hours => (select value::integer from recodb.setting
                                    where key = 'fresh_post_hours')));
create unique index fresh_post_post_id on recodb.fresh_post (post_id);
create index fresh_post_popularity on recodb.fresh_post (popularity desc, created_at desc, post_id);
comment on materialized view recodb.fresh_post is
    'Posts newer than the active model or than fresh_post_hours (whichever reaches further), '
    'with their author''s popularity (fresh candidates in recommend())';
"""

VIEW_NAMES = ("user_recent_likes", "fresh_post", "author_popularity", "trending_post",
              "post_engagement")  # fmt: skip


def _conn():
    return op.get_bind().connection.driver_connection


def upgrade() -> None:
    conn = _conn()
    for name in VIEW_NAMES:
        conn.execute(sql.SQL("drop materialized view recodb.{}").format(sql.Identifier(name)))
    conn.execute(TABLES)
    # Today's triples; the first refresh() (full_needed) counts them.
    conn.execute(
        "insert into recodb.engagement (post_id, user_id, interaction_type, last_at)"
        " select post_id, user_id, interaction_type, max(created_at)"
        " from user_interaction group by post_id, user_id, interaction_type"
    )
    owner = sql.Identifier(OWNER)
    for table in ("engagement", "refresh_state", "post_engagement", "author_popularity",
                  "user_recent_likes", "trending_post"):  # fmt: skip
        conn.execute(sql.SQL("alter table recodb.{} owner to {}").format(
            sql.Identifier(table), owner))  # fmt: skip
    conn.execute(sql.SQL("alter materialized view recodb.fresh_post owner to {}").format(owner))


def downgrade() -> None:
    conn = _conn()
    conn.execute("drop trigger if exists engagement_insert on user_interaction")
    conn.execute("drop trigger if exists engagement_change on user_interaction")
    conn.execute("drop trigger if exists engagement_truncate on user_interaction")
    conn.execute(
        "drop materialized view recodb.fresh_post;"
        " drop table recodb.trending_post, recodb.user_recent_likes, recodb.author_popularity,"
        " recodb.post_engagement, recodb.refresh_state, recodb.engagement"
    )
    rev0006 = schema.load_revision("0006_serving_v2.py")
    rev0006._recreate_views(conn, rev0006.VIEWS)
    for name in VIEW_NAMES:
        conn.execute(sql.SQL("alter materialized view recodb.{} owner to {}").format(
            sql.Identifier(name), sql.Identifier(OWNER)))  # fmt: skip
