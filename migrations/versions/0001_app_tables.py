"""The app's tables (the seed's shape), the vector extension and schema recodb.

The app tables usually exist already in the customer's database. This revision creates what is
missing and records each object it made in recodb.installed_object, so that downgrading removes
exactly those and never a table, column or index that was there before.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from alembic import op
from psycopg import sql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

INTERACTION_TYPES = ("view", "click", "like", "comment", "share")

TABLES: dict[str, str] = {
    "users": """
        create table users (
            id uuid primary key default gen_random_uuid(),
            username text not null,
            external_id text,
            created_at timestamptz not null default now()
        )""",
    # author_id is nullable: posts imported from an item log (MovieLens) have no author.
    "posts": """
        create table posts (
            id uuid primary key default gen_random_uuid(),
            author_id uuid references users (id) on delete cascade,
            content text,
            external_id text,
            created_at timestamptz not null default now()
        )""",
    "follows": """
        create table follows (
            follower_id uuid not null references users (id) on delete cascade,
            followee_id uuid not null references users (id) on delete cascade,
            created_at timestamptz not null default now(),
            primary key (follower_id, followee_id),
            check (follower_id <> followee_id)
        )""",
    "user_interaction": """
        create table user_interaction (
            id uuid primary key default gen_random_uuid(),
            user_id uuid not null references users (id) on delete cascade,
            post_id uuid not null references posts (id) on delete cascade,
            interaction_type varchar(50) not null,
            metadata jsonb,
            created_at timestamptz not null default now()
        )""",
    "user_recommendation": """
        create table user_recommendation (
            id uuid primary key default gen_random_uuid(),
            user_id uuid not null references users (id) on delete cascade,
            post_id uuid not null references posts (id) on delete cascade,
            score double precision not null,
            generated_at timestamptz not null default now(),
            expires_at timestamptz not null,
            unique (user_id, post_id)
        )""",
}

# Columns recodb reads from each app table; a pre-existing table must have them.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "users": ("id", "created_at"),
    "posts": ("id", "author_id", "content", "created_at"),
    "follows": ("follower_id", "followee_id"),
    "user_interaction": ("id", "user_id", "post_id", "interaction_type", "metadata", "created_at"),
    "user_recommendation": ("id", "user_id", "post_id", "score", "generated_at", "expires_at"),
}

# The seed's indexes, and the ones recodb's queries need.
INDEXES: dict[str, str] = {
    "users_external_id_key": "create unique index {} on users (external_id)",
    "posts_external_id_key": "create unique index {} on posts (external_id)",
    "posts_author_created_idx": "create index {} on posts (author_id, created_at desc)",
    "posts_created_idx": "create index {} on posts (created_at desc)",
    "follows_followee_idx": "create index {} on follows (followee_id)",
    "idx_user_interaction_user": "create index {} on user_interaction (user_id, created_at)",
    "idx_user_interaction_post": "create index {} on user_interaction (post_id, created_at)",
    "idx_user_interaction_time": "create index {} on user_interaction (created_at)",
    "idx_user_reco_user_score": "create index {} on user_recommendation (user_id, score desc)",
    "idx_user_reco_expires": "create index {} on user_recommendation (user_id, expires_at)",
    "idx_user_reco_cleanup": "create index {} on user_recommendation (expires_at)",
}

TYPE_CHECK = "user_interaction_type_check"


def _conn():
    return op.get_bind().connection.driver_connection


def _record(conn, kind: str, name: str) -> None:
    conn.execute("insert into recodb.installed_object (kind, name) values (%s, %s)", (kind, name))


def _exists(conn, query: str, *args) -> bool:
    return conn.execute(sql.SQL("select exists ({})").format(sql.SQL(query)), args).fetchone()[0]


def upgrade() -> None:
    conn = _conn()
    conn.execute("create schema recodb")
    conn.execute("comment on schema recodb is 'recodb: recommender state and serving functions'")
    conn.execute(
        """
        create table recodb.installed_object (
            kind text not null,
            name text not null,
            installed_at timestamptz not null default now(),
            primary key (kind, name)
        )"""
    )
    conn.execute(
        "comment on table recodb.installed_object is"
        " 'Objects outside schema recodb that recodb created; downgrade removes only these'"
    )

    if not _exists(conn, "select from pg_extension where extname = 'vector'"):
        conn.execute("create extension vector")
        _record(conn, "extension", "vector")

    for table, ddl in TABLES.items():
        if conn.execute("select to_regclass(%s) is null", (table,)).fetchone()[0]:
            conn.execute(ddl)
            _record(conn, "table", table)
            continue
        present = {
            row[0]
            for row in conn.execute(
                "select attname from pg_attribute where attrelid = %s::regclass"
                " and attnum > 0 and not attisdropped",
                (table,),
            )
        }
        if table in ("users", "posts") and "external_id" not in present:
            conn.execute(
                sql.SQL("alter table {} add column external_id text").format(sql.Identifier(table))
            )
            _record(conn, "column", f"{table}.external_id")
            present.add("external_id")
        missing = [c for c in REQUIRED_COLUMNS[table] if c not in present]
        if missing:
            raise RuntimeError(
                f"table {table} exists but lacks column(s) {', '.join(missing)} that recodb needs"
            )

    if not _exists(
        conn,
        "select from pg_constraint where conrelid = 'user_interaction'::regclass and contype = 'c'"
        " and pg_get_constraintdef(oid) like '%%interaction_type%%'",
    ):
        conn.execute(
            sql.SQL("alter table user_interaction add constraint {} check ({})").format(
                sql.Identifier(TYPE_CHECK),
                sql.SQL("interaction_type in ({})").format(
                    sql.SQL(", ").join(map(sql.Literal, INTERACTION_TYPES))
                ),
            )
        )
        _record(conn, "constraint", f"user_interaction.{TYPE_CHECK}")

    for name, ddl in INDEXES.items():
        if conn.execute("select to_regclass(%s) is null", (name,)).fetchone()[0]:
            conn.execute(sql.SQL(ddl).format(sql.Identifier(name)))
            _record(conn, "index", name)


def downgrade() -> None:
    conn = _conn()
    installed = conn.execute(
        "select kind, name from recodb.installed_object order by installed_at desc, name"
    ).fetchall()
    by_kind: dict[str, list[str]] = {}
    for kind, name in installed:
        by_kind.setdefault(kind, []).append(name)

    for name in by_kind.get("index", []):
        conn.execute(sql.SQL("drop index if exists {}").format(sql.Identifier(name)))
    for qualified in by_kind.get("constraint", []):
        table, name = qualified.split(".")
        conn.execute(
            sql.SQL("alter table {} drop constraint if exists {}").format(
                sql.Identifier(table), sql.Identifier(name)
            )
        )
    for qualified in by_kind.get("column", []):
        table, name = qualified.split(".")
        conn.execute(
            sql.SQL("alter table {} drop column if exists {}").format(
                sql.Identifier(table), sql.Identifier(name)
            )
        )
    # Reverse creation order: referencing tables before the tables they reference.
    for table in reversed([t for t in TABLES if t in by_kind.get("table", [])]):
        conn.execute(sql.SQL("drop table {}").format(sql.Identifier(table)))
    conn.execute("drop schema recodb cascade")
    if "vector" in by_kind.get("extension", []):
        conn.execute("drop extension vector")
