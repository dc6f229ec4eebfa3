"""Serving, second version: one slate row per user, engagement counted once per user, decay
safe for any timestamp, and a dedicated owner for the engine's functions.

- recodb.slate: one unlogged row per user (post ids, scores and reasons as arrays, the model
  version, generated_at, expires_at), without foreign keys: a slate is a cache that
  recommend() recomputes when it is lost. Storing 100 rows of user_recommendation with five
  indexes and two foreign keys cost 2.5 ms of an 11 ms fresh slate.
- user_recommendation: where recodb created it, it becomes a view over the slates (one row
  per post, as the seed's table had), so apps that query it keep working. A table the app had
  before recodb is left alone and no longer written.
- The engagement views count each user once per post and interaction type (300 shares by one
  user count as one), and their decay clamps the age at 0 (a future-dated row weighs 1, not
  e^huge) and the exponent at 64 half-lives (as recodb.decay() does), so no timestamp can
  make refresh() fail.
- recodb.model.post_fold_in: (X'X + λI)⁻¹ over the user vectors, so that refresh() can fold a
  new post's first engagements into a collaborative vector (the mirror of the user fold-in).
- Setting max_metadata_bytes: track_interaction() refuses larger metadata (10 MB was
  accepted before).
- recodb_owner: a NOLOGIN role that owns every function in schema recodb and the
  materialized views, with only the privileges they need (read the app's tables, add
  interactions, write slates). `security definer` functions run as it, never as a superuser.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from alembic import op
from psycopg import errors, sql

from recodb import schema

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OWNER = "recodb_owner"

SLATE = """
create unlogged table recodb.slate (
    user_id uuid primary key,
    model_version integer,
    post_ids uuid[] not null,
    scores double precision[] not null,
    reasons text[] not null,
    precomputed boolean not null default false,
    generated_at timestamptz not null default now(),
    expires_at timestamptz not null
);
create index slate_expires_at on recodb.slate (expires_at);
comment on table recodb.slate is
    'One feed slate per user, best first (recommend() computes and stores it; later pages read '
    'it). Unlogged and without foreign keys: a lost slate is recomputed';
"""

SLATE_VIEW = """
create view user_recommendation as
select md5(s.user_id::text || p.post_id::text)::uuid as id, s.user_id, p.post_id,
       p.score, s.generated_at, s.expires_at, p.reason, s.model_version
from recodb.slate s
cross join lateral unnest(s.post_ids, s.scores, s.reasons) as p(post_id, score, reason);
comment on view user_recommendation is
    'The seed''s precomputed recommendations, one row per post: a view over recodb.slate';
"""

# Each user counts once per post and type: the newest of their interactions of that type.
VIEWS = """
create materialized view recodb.post_engagement as
with once as (
    select i.post_id, i.user_id, i.interaction_type, max(i.created_at) as created_at
    from user_interaction i
    group by i.post_id, i.user_id, i.interaction_type
)
select o.post_id,
       count(*) filter (where o.interaction_type = 'view') as views,
       count(*) filter (where o.interaction_type = 'click') as clicks,
       count(*) filter (where o.interaction_type = 'like') as likes,
       count(*) filter (where o.interaction_type = 'comment') as comments,
       count(*) filter (where o.interaction_type = 'share') as shares,
       sum((w.value ->> o.interaction_type)::float8) as engagement,
       max(o.created_at) as last_interaction_at
from once o
cross join (select value from recodb.setting where key = 'interaction_weights') w
group by o.post_id;
create unique index post_engagement_post_id on recodb.post_engagement (post_id);
comment on materialized view recodb.post_engagement is
    'Per post: users who interacted, per type (each user once), and type-weighted engagement '
    '(refreshed by recodb.refresh())';

create materialized view recodb.trending_post as
with s as (
    select (select value from recodb.setting where key = 'interaction_weights') as weights,
           (select value::float8 from recodb.setting where key = 'trending_half_life_hours')
               as half_life,
           (select value::float8 from recodb.setting where key = 'trending_window_hours')
               as window_hours
), once as (
    select i.post_id, i.user_id, i.interaction_type, max(i.created_at) as created_at
    from user_interaction i, s
    where i.created_at > now() - make_interval(secs => s.window_hours * 3600)
    group by i.post_id, i.user_id, i.interaction_type
)
select o.post_id,
       sum((s.weights ->> o.interaction_type)::float8
           * power(0.5, least(greatest(extract(epoch from now() - o.created_at), 0)
                              / 3600.0 / s.half_life, 64)))
           as velocity
from once o, s
group by o.post_id;
create unique index trending_post_post_id on recodb.trending_post (post_id);
create index trending_post_velocity on recodb.trending_post (velocity desc, post_id);
comment on materialized view recodb.trending_post is
    'Engagement velocity: type-weighted interactions of the trending window (each user once per '
    'post and type), each halved every trending_half_life_hours of age at refresh time';
"""

VIEW_NAMES = ("user_recent_likes", "fresh_post", "author_popularity", "trending_post",
              "post_engagement")  # fmt: skip


def _conn():
    return op.get_bind().connection.driver_connection


def _split_views(text: str) -> dict[str, str]:
    """0004's VIEWS script, cut into one chunk per materialized view (with its indexes)."""
    chunks: dict[str, str] = {}
    current = None
    for statement in text.split(";\n"):
        for name in VIEW_NAMES:
            if f"create materialized view recodb.{name} " in statement:
                current = name
        if current and statement.strip():
            chunks[current] = chunks.get(current, "") + statement + ";\n"
    return chunks


def _recreate_views(conn, definitions: str) -> None:
    """Drop the engagement views and create them from `definitions` plus 0004's others."""
    for name in VIEW_NAMES:
        conn.execute(sql.SQL("drop materialized view if exists recodb.{}").format(
            sql.Identifier(name)))  # fmt: skip
    old = _split_views(schema.load_revision("0004_serving.py").VIEWS)
    new = _split_views(definitions)
    for name in reversed(VIEW_NAMES):  # dependencies first
        conn.execute(new.get(name) or old[name])


def _created_by_recodb(conn, kind: str, name: str) -> bool:
    return conn.execute(
        "select exists (select from recodb.installed_object where kind = %s and name = %s)",
        (kind, name),
    ).fetchone()[0]


def upgrade() -> None:
    conn = _conn()
    if not conn.execute("select exists (select from pg_roles where rolname = %s)",
                        (OWNER,)).fetchone()[0]:  # fmt: skip
        conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(OWNER)))
        conn.execute(
            "insert into recodb.installed_object (kind, name) values ('role', %s)", (OWNER,)
        )
    # The migrating role must be able to create or replace functions owned by recodb_owner.
    # (PostgreSQL 16+: a role that created another may administer it, but must also be granted
    # SET on it to hand objects to it.)
    if not conn.execute("select pg_has_role(current_user, %s, 'set')", (OWNER,)).fetchone()[0]:
        conn.execute(
            sql.SQL("grant {} to current_user with set true, inherit true").format(
                sql.Identifier(OWNER)
            )
        )

    conn.execute(SLATE)
    conn.execute(
        "alter table recodb.model add column post_fold_in real[];"
        " comment on column recodb.model.post_fold_in is"
        " 'Row-major inverse of (X''X + regularization * I) over the user vectors X: folds the"
        " first engagements of a post written after training into its vector'"
    )
    conn.execute("alter table recodb.setting disable trigger user")  # see 0003
    conn.execute(
        "insert into recodb.setting (key, value, kind, description, default_value, min_value,"
        " max_value) values ('max_metadata_bytes', '4096', 'whole', %s, '4096', 2, 1048576)",
        ("Largest metadata (bytes of JSON text) track_interaction() accepts",),
    )
    conn.execute("alter table recodb.setting enable trigger user")
    if _created_by_recodb(conn, "table", "user_recommendation"):
        conn.execute("drop table user_recommendation")
        conn.execute(SLATE_VIEW)
        conn.execute("delete from recodb.installed_object where name like 'idx\\_user\\_reco\\_%%'")
        conn.execute(
            "delete from recodb.installed_object where kind = 'column'"
            " and name like 'user\\_recommendation.%%'"
        )
        conn.execute(
            "update recodb.installed_object set kind = 'view'"
            " where kind = 'table' and name = 'user_recommendation'"
        )

    _recreate_views(conn, VIEWS)

    owner = sql.Identifier(OWNER)
    for statement in (
        "grant usage on schema public, recodb to {}",
        # An owner of objects in a schema needs CREATE on it to be given them.
        "grant create on schema recodb to {}",
        "grant select on users, posts, follows, user_interaction to {}",
        "grant insert on user_interaction to {}",
        "grant select on all tables in schema recodb to {}",
        "grant insert, update, delete on recodb.slate to {}",
    ):
        conn.execute(sql.SQL(statement).format(owner))
    for name in VIEW_NAMES:
        conn.execute(sql.SQL("alter materialized view recodb.{} owner to {}").format(
            sql.Identifier(name), owner))  # fmt: skip
    for (version,) in conn.execute("select version from recodb.model").fetchall():
        for kind in ("post", "user"):
            table = conn.execute("select recodb.model_table(%s, %s)", (kind, version)).fetchone()
            if table and table[0]:
                conn.execute(sql.SQL("grant select, insert, update on {} to {}").format(
                    sql.SQL(table[0]), owner))  # fmt: skip


def downgrade() -> None:
    conn = _conn()
    if _created_by_recodb(conn, "view", "user_recommendation"):
        conn.execute("drop view user_recommendation")
        rev0001 = schema.load_revision("0001_app_tables.py")
        conn.execute(rev0001.TABLES["user_recommendation"])
        for name in ("idx_user_reco_user_score", "idx_user_reco_expires", "idx_user_reco_cleanup"):
            conn.execute(sql.SQL(rev0001.INDEXES[name]).format(sql.Identifier(name)))
            conn.execute(
                "insert into recodb.installed_object (kind, name) values ('index', %s)", (name,)
            )
        conn.execute(
            "update recodb.installed_object set kind = 'table'"
            " where kind = 'view' and name = 'user_recommendation'"
        )
        for column, definition in (("reason", "text"), ("model_version", "integer")):
            conn.execute(sql.SQL("alter table user_recommendation add column {} {}").format(
                sql.Identifier(column), sql.SQL(definition)))  # fmt: skip
            conn.execute(
                "insert into recodb.installed_object (kind, name) values ('column', %s)",
                (f"user_recommendation.{column}",),
            )
    conn.execute("drop table recodb.slate")
    conn.execute("alter table recodb.model drop column post_fold_in")
    conn.execute("delete from recodb.setting where key = 'max_metadata_bytes'")
    _recreate_views(conn, "")
    if conn.execute("select exists (select from pg_roles where rolname = %s)",
                    (OWNER,)).fetchone()[0]:  # fmt: skip
        # Functions go back to the migrating role; sql/ is re-applied after this.
        conn.execute(sql.SQL("reassign owned by {} to current_user").format(sql.Identifier(OWNER)))
        conn.execute(sql.SQL("drop owned by {}").format(sql.Identifier(OWNER)))
    created = conn.execute(
        "delete from recodb.installed_object where kind = 'role' and name = %s returning name",
        (OWNER,),
    ).fetchone()
    if created:
        conn.execute("savepoint drop_owner")
        try:
            conn.execute(sql.SQL("drop role {}").format(sql.Identifier(OWNER)))
            conn.execute("release savepoint drop_owner")
        except errors.DependentObjectsStillExist:  # another database still uses it
            conn.execute("rollback to savepoint drop_owner")
