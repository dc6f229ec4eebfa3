"""alembic owns the schema: up, down, up again; no-op re-upgrades; a committed snapshot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from alembic.script import ScriptDirectory
from helpers import dump_schema, server_major
from psycopg import sql

from recodb import schema
from recodb.config import source_path

SNAPSHOTS = Path(__file__).parent / "snapshots"
# One snapshot per PostgreSQL major the tests run on, tests/snapshots/schema-pg<major>.sql
# (pg18: the embedded server). On a major without one the test fails instead of skipping,
# unless the major is listed here with the reason.
UNSNAPSHOTTED_MAJORS: dict[int, str] = {}

APP_TABLES = {"users", "posts", "follows", "user_interaction", "user_recommendation"}


def _objects(url: str) -> dict[str, set[str]]:
    """What a database holds beyond a fresh one: schemas, extensions, tables, functions."""
    with psycopg.connect(url) as conn:
        return {
            "schemas": {
                r[0]
                for r in conn.execute(
                    "select nspname from pg_namespace where nspname not like 'pg\\_%'"
                    " and nspname not in ('public', 'information_schema')"
                )
            },
            "extensions": {
                r[0]
                for r in conn.execute("select extname from pg_extension where extname <> 'plpgsql'")
            },
            "tables": {
                r[0]
                for r in conn.execute(
                    "select c.oid::regclass::text from pg_class c"
                    " join pg_namespace n on n.oid = c.relnamespace"
                    " where c.relkind in ('r', 'p', 'v', 'm')"
                    " and n.nspname not in ('pg_catalog', 'information_schema')"
                )
            },
            "functions": {
                r[0]
                for r in conn.execute(
                    "select p.oid::regprocedure::text from pg_proc p"
                    " join pg_namespace n on n.oid = p.pronamespace"
                    " where n.nspname not in ('pg_catalog', 'information_schema')"
                )
            },
        }


def test_upgrade_downgrade_upgrade(empty_db_url: str) -> None:
    before = _objects(empty_db_url)
    assert before == {"schemas": set(), "extensions": set(), "tables": set(), "functions": set()}

    schema.upgrade(empty_db_url)
    after = _objects(empty_db_url)
    assert after["schemas"] == {"recodb"}
    assert after["extensions"] == {"vector"}
    assert after["tables"] >= APP_TABLES
    assert {"recodb.setting", "recodb.model", "recodb.synthetic_user"} <= after["tables"]
    assert "recodb.trending(integer,integer)" in after["functions"]
    first_dump = dump_schema(empty_db_url)

    schema.downgrade(empty_db_url, "base")
    # Everything recodb made is gone: pgvector's own functions, the version table, all of it.
    assert _objects(empty_db_url) == before

    schema.upgrade(empty_db_url)
    assert dump_schema(empty_db_url) == first_dump


def test_second_upgrade_changes_nothing(db_url: str) -> None:
    before = dump_schema(db_url)
    schema.upgrade(db_url)
    assert dump_schema(db_url) == before
    with psycopg.connect(db_url) as conn:
        assert schema.current_revision(conn) == schema.head_revision()


def check_snapshot(current: str, major: int, *, update: bool, folder: Path = SNAPSHOTS) -> None:
    """Compare a schema dump with the committed snapshot of its server's major (or write it)."""
    if major in UNSNAPSHOTTED_MAJORS:
        pytest.skip(f"PostgreSQL {major} has no schema snapshot: {UNSNAPSHOTTED_MAJORS[major]}")
    path = folder / f"schema-pg{major}.sql"
    if update:
        folder.mkdir(exist_ok=True)
        path.write_text(current)
    if not path.is_file():
        pytest.fail(
            f"no schema snapshot for PostgreSQL {major}: create tests/snapshots/{path.name} with "
            "RECODB_UPDATE_SNAPSHOT=1 uv run pytest tests/test_migrations.py -k snapshot "
            f"against a PostgreSQL {major} server (DATABASE_URL), review it and commit it; or "
            "add the major to UNSNAPSHOTTED_MAJORS with the reason"
        )
    assert current == path.read_text(), (
        f"the installed schema drifted from tests/snapshots/{path.name}; if intended, "
        "regenerate it with RECODB_UPDATE_SNAPSHOT=1 and review the diff"
    )


def test_schema_matches_the_committed_snapshot(db_url: str) -> None:
    """Every table, index, function and grant change shows up in tests/snapshots/.

    After an intended change: RECODB_UPDATE_SNAPSHOT=1 uv run pytest tests/test_migrations.py
    """
    with psycopg.connect(db_url) as conn:
        major = server_major(conn)
    update = os.environ.get("RECODB_UPDATE_SNAPSHOT") == "1"
    check_snapshot(dump_schema(db_url), major, update=update)


def test_a_major_without_a_snapshot_fails(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "schema-pg17.sql").write_text("create table t ();\n")
    check_snapshot("create table t ();\n", 17, update=False, folder=tmp_path)
    with pytest.raises(AssertionError, match=r"drifted from tests/snapshots/schema-pg17\.sql"):
        check_snapshot("create table u ();\n", 17, update=False, folder=tmp_path)
    with pytest.raises(
        pytest.fail.Exception, match=r"schema-pg99\.sql with RECODB_UPDATE_SNAPSHOT=1"
    ):
        check_snapshot("create table t ();\n", 99, update=False, folder=tmp_path)
    check_snapshot("create table t ();\n", 99, update=True, folder=tmp_path)
    assert (tmp_path / "schema-pg99.sql").read_text() == "create table t ();\n"
    # Only a major listed with a reason skips.
    monkeypatch.setitem(UNSNAPSHOTTED_MAJORS, 98, "a reason")
    with pytest.raises(pytest.skip.Exception, match=r"PostgreSQL 98 .*a reason"):
        check_snapshot("create table t ();\n", 98, update=False, folder=tmp_path)


SEED_SHAPED_TABLES = """
create table users (id uuid primary key, email text, created_at timestamptz not null default now());
create table posts (id uuid primary key, author_id uuid references users (id), content text,
                    created_at timestamptz not null default now());
create table follows (follower_id uuid references users (id),
                      followee_id uuid references users (id),
                      primary key (follower_id, followee_id));
create table user_interaction (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  post_id uuid not null references posts (id) on delete cascade,
  interaction_type varchar(50) not null,
  metadata jsonb,
  created_at timestamp not null default now());
create index idx_user_interaction_user on user_interaction (user_id, created_at);
create table user_recommendation (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  post_id uuid not null references posts (id) on delete cascade,
  score float not null,
  generated_at timestamp not null default now(),
  expires_at timestamp not null,
  unique (user_id, post_id));
insert into users (id, email) values ('00000000-0000-4000-8000-000000000001', 'a@example.com');
"""


def test_existing_app_tables_are_kept_and_restored(empty_db_url: str) -> None:
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute(SEED_SHAPED_TABLES)
    original = dump_schema(empty_db_url)

    schema.upgrade(empty_db_url)
    with psycopg.connect(empty_db_url) as conn:
        # recodb added what it needs to the customer's tables...
        assert conn.execute("select count(*) from users").fetchone()[0] == 1
        assert (
            conn.execute(
                "select count(*) from pg_attribute where attrelid = 'posts'::regclass"
                " and attname = 'external_id'"
            ).fetchone()[0]
            == 1
        )
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "insert into user_interaction (user_id, post_id, interaction_type) values"
                " ('00000000-0000-4000-8000-000000000001', gen_random_uuid(), 'poke')"
            )

    schema.downgrade(empty_db_url, "base")
    # ...and took exactly that away again: the tables, their row and their own index remain.
    assert dump_schema(empty_db_url) == original
    with psycopg.connect(empty_db_url) as conn:
        assert conn.execute("select email from users").fetchone()[0] == "a@example.com"


def test_existing_table_without_a_needed_column_is_refused(empty_db_url: str) -> None:
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("create table users (id uuid primary key, name text)")
    with pytest.raises(Exception, match=r"users exists but lacks column.*created_at"):
        schema.upgrade(empty_db_url)
    with psycopg.connect(empty_db_url) as conn:
        assert schema.current_revision(conn) is None
        assert conn.execute("select to_regnamespace('recodb')").fetchone()[0] is None


def test_concurrent_upgrades_are_safe(empty_db_url: str) -> None:
    """Three deploys run `alembic upgrade head` at once: all succeed, the schema is made once."""
    env = {**os.environ, "DATABASE_URL": empty_db_url}
    command = [sys.executable, "-m", "alembic", "-c", str(source_path("alembic.ini")), "upgrade"]
    runs = [
        subprocess.Popen([*command, "head"], env=env, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    for run in runs:
        _, stderr = run.communicate(timeout=120)
        assert run.returncode == 0, stderr
    with psycopg.connect(empty_db_url) as conn:
        assert schema.current_revision(conn) == schema.head_revision()


def test_head_revision_reader_agrees_with_alembic() -> None:
    script = ScriptDirectory.from_config(schema.alembic_config())
    assert schema.head_revision() == script.get_current_head()


def test_sql_objects_follow_the_revision(db_url: str) -> None:
    def functions() -> set[str]:
        with psycopg.connect(db_url) as conn:
            return {
                r[0]
                for r in conn.execute(
                    "select proname from pg_proc where pronamespace = 'recodb'::regnamespace"
                )
            }

    every_file = {obj.name for obj in schema.sql_objects()}
    assert every_file <= functions()
    schema.downgrade(db_url, "0001")
    assert functions() == set()  # all of today's objects need 0002
    schema.upgrade(db_url)
    assert every_file <= functions()


def test_the_candidate_default_moves_only_where_it_was_the_default(empty_db_url: str) -> None:
    """0010 lowers candidates_per_source from 60 to 30 where the old default stood, keeps a
    value an operator chose, and a downgrade puts the old default back."""

    def value() -> int:
        with psycopg.connect(empty_db_url) as conn:
            return conn.execute(
                "select value::integer from recodb.setting where key = 'candidates_per_source'"
            ).fetchone()[0]

    def set_value(n: int) -> None:
        with psycopg.connect(empty_db_url) as conn:
            conn.execute(
                "update recodb.setting set value = to_jsonb(%s::integer)"
                " where key = 'candidates_per_source'",
                (n,),
            )

    schema.upgrade(empty_db_url, "0009")
    assert value() == 60
    schema.upgrade(empty_db_url)
    assert value() == 30
    schema.downgrade(empty_db_url, "0009")
    assert value() == 60
    set_value(45)
    schema.upgrade(empty_db_url)
    assert value() == 45


def test_versions_trained_before_0011_get_their_serving_views(empty_db_url: str) -> None:
    """0011 gives every model version whose tables exist its schema recodb_v<N> of views (the
    scoring functions read them); a new version gets them from create_model_tables(), and
    dropping its tables drops them; a downgrade takes the schemas away."""

    def view_schemas() -> set[str]:
        with psycopg.connect(empty_db_url) as conn:
            return {
                r[0]
                for r in conn.execute(
                    "select n.nspname from pg_namespace n join pg_class c"
                    " on c.relnamespace = n.oid and c.relname = 'post_vector' and c.relkind = 'v'"
                    " where n.nspname like 'recodb\\_v%'"
                )
            }

    schema.upgrade(empty_db_url, "0010")
    with psycopg.connect(empty_db_url) as conn:
        (old,) = conn.execute(
            "insert into recodb.model (algorithm) values ('als') returning version"
        ).fetchone()
        (gone,) = conn.execute(
            "insert into recodb.model (algorithm) values ('als') returning version"
        ).fetchone()
        # As 0010's create_model_tables() left a version: tables and no views.
        conn.execute(
            f"create table recodb.post_vector_v{old} (post_id uuid not null, cf public.vector(4),"
            " content public.vector, author_id uuid, created_at timestamptz not null);"
            f" create table recodb.user_vector_v{old} (user_id uuid not null,"
            " cf public.vector(4) not null, content public.vector)"
        )
    assert view_schemas() == set()
    schema.upgrade(empty_db_url)
    assert view_schemas() == {f"recodb_v{old}"}  # `gone` has no tables: nothing to view
    with psycopg.connect(empty_db_url) as conn:
        assert conn.execute("select recodb.model_search_path(%s)", (old,)).fetchone()[0] == (
            f"pg_catalog, recodb_v{old}, recodb, pg_temp"
        )
        with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="serving views"):
            conn.execute("select recodb.model_search_path(%s)", (gone,))
    with psycopg.connect(empty_db_url) as conn:
        conn.execute("select recodb.create_model_tables(%s, 4, 0)", (gone,))
        views = sql.Identifier(f"recodb_v{gone}", "user_vector")
        assert conn.execute(sql.SQL("select count(*) from {}").format(views)).fetchone()[0] == 0
    assert view_schemas() == {f"recodb_v{old}", f"recodb_v{gone}"}
    with psycopg.connect(empty_db_url) as conn:
        assert conn.execute("select recodb.drop_model_tables(%s)", (gone,)).fetchone()[0]
    assert view_schemas() == {f"recodb_v{old}"}
    schema.downgrade(empty_db_url, "0010")
    assert view_schemas() == set()


def _index_defs(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        return dict(
            conn.execute(
                "select indexname, indexdef from pg_indexes where tablename = 'user_interaction'"
                " and indexdef like '%(user_id, created_at)%'"
            ).fetchall()
        )


def test_0012_covers_the_seen_set(empty_db_url: str) -> None:
    """0012 rebuilds recodb's (user_id, created_at) index with post_id and interaction_type
    included, so reading what a user touched is an index-only scan; a downgrade restores it."""
    schema.upgrade(empty_db_url, "0011")
    plain = _index_defs(empty_db_url)
    assert list(plain) == ["idx_user_interaction_user"]
    assert "INCLUDE" not in plain["idx_user_interaction_user"]
    schema.upgrade(empty_db_url)
    covering = _index_defs(empty_db_url)
    assert list(covering) == ["idx_user_interaction_user"]
    assert covering["idx_user_interaction_user"].endswith(
        "(user_id, created_at) INCLUDE (post_id, interaction_type)"
    )
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        # 100 users with 50 interactions each over 1,000 posts, vacuumed (all visible).
        conn.execute(
            "insert into users (id, username)"
            " select ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid, 'u' || n"
            " from generate_series(1, 100) n"
        )
        conn.execute(
            "insert into posts (id) select gen_random_uuid() from generate_series(1, 1000)"
        )
        conn.execute(
            "insert into user_interaction (user_id, post_id, interaction_type)"
            " select u.id, p.id, 'like' from users u"
            " cross join lateral (select id from posts where u.id is not null"
            "                     order by random() limit 50) p"
        )
        conn.execute("vacuum analyze user_interaction")
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                "explain select array_agg(distinct i.post_id) from user_interaction i"
                " where i.user_id = '00000000-0000-4000-8000-000000000001'"
            )
        )
        assert "Index Only Scan using idx_user_interaction_user" in plan
    schema.downgrade(empty_db_url, "0011")
    assert _index_defs(empty_db_url) == plain


def test_0012_leaves_an_app_index_alone(empty_db_url: str) -> None:
    """An idx_user_interaction_user the app made stays as it is; recodb adds its own covering
    index beside it, and a downgrade removes only that."""
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute(SEED_SHAPED_TABLES)
    schema.upgrade(empty_db_url, "0011")
    before = _index_defs(empty_db_url)
    schema.upgrade(empty_db_url)
    after = _index_defs(empty_db_url)
    assert after["idx_user_interaction_user"] == before["idx_user_interaction_user"]
    assert after["recodb_user_interaction_seen"].endswith(
        "(user_id, created_at) INCLUDE (post_id, interaction_type)"
    )
    schema.downgrade(empty_db_url, "0011")
    assert _index_defs(empty_db_url) == before
