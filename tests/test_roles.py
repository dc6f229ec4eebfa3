"""Least privilege: what the feed roles may execute, exactly, and that tables stay closed."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from recodb.data import load as loading
from recodb.data.generate import generate

READ = {
    "recodb.recommend(uuid,integer,integer,boolean)",
    "recodb.similar_posts(uuid,integer)",
    "recodb.similar_users(uuid,integer)",
    "recodb.trending(integer,integer)",
    "recodb.serving_status()",
}
ALLOWED = {
    "recodb_feed_reader": READ,
    "recodb_tracker": READ | {"recodb.track_interaction(uuid,uuid,text,jsonb)"},
}


@pytest.mark.parametrize("role", sorted(ALLOWED))
def test_exact_execute_allowlist(conn: psycopg.Connection, role: str) -> None:
    executable = {
        r[0]
        for r in conn.execute(
            "select p.oid::regprocedure::text from pg_proc p"
            " where p.pronamespace = 'recodb'::regnamespace"
            " and has_function_privilege(%s, p.oid, 'execute')",
            (role,),
        )
    }
    assert executable == ALLOWED[role]
    # The functions they may call run as their owner, with a search_path that can't be hijacked.
    for signature in ALLOWED[role]:
        definer, config = conn.execute(
            "select prosecdef, proconfig from pg_proc where oid = %s::regprocedure", (signature,)
        ).fetchone()
        assert definer
        path = next(c for c in config if c.startswith("search_path="))
        assert path.endswith("pg_temp")


@pytest.mark.parametrize("role", sorted(ALLOWED))
def test_no_table_privileges_at_all(conn: psycopg.Connection, role: str) -> None:
    granted = conn.execute(
        """
        select c.oid::regclass::text, privilege
        from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        cross join unnest(array['select', 'insert', 'update', 'delete', 'truncate']) as privilege
        where n.nspname in ('public', 'recodb') and c.relkind in ('r', 'v', 'm', 'p')
          and has_table_privilege(%s, c.oid, privilege)
        """,
        (role,),
    ).fetchall()
    assert granted == []


@pytest.mark.parametrize("role", sorted(ALLOWED))
def test_direct_reads_and_writes_are_denied(conn: psycopg.Connection, role: str) -> None:
    conn.execute(sql.SQL("set role {}").format(sql.Identifier(role)))
    try:
        for statement in (
            "select * from user_interaction limit 1",
            "select * from recodb.setting",
            "insert into user_interaction (user_id, post_id, interaction_type)"
            " values (gen_random_uuid(), gen_random_uuid(), 'view')",
            "select * from recodb.post_engagement",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                conn.execute(statement)
    finally:
        conn.execute("reset role")


def test_the_roles_can_use_the_feed(conn: psycopg.Connection) -> None:
    loading.load(conn, generate(40, 200, 2000, seed=3, days=5))
    conn.execute("select recodb.refresh()")
    user, post = conn.execute(
        "select u.id, p.id from users u, posts p order by u.id, p.id limit 1"
    ).fetchone()
    conn.execute("set role recodb_feed_reader")
    try:
        assert len(conn.execute("select * from recodb.recommend(%s, 5)", (user,)).fetchall()) == 5
        assert conn.execute("select count(*) from recodb.trending(5)").fetchone()[0] == 5
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select recodb.track_interaction(%s, %s, 'like')", (user, post))
    finally:
        conn.execute("reset role")
    conn.execute("set role recodb_tracker")
    try:
        conn.execute("select recodb.track_interaction(%s, %s, 'like')", (user, post))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select recodb.refresh()")
    finally:
        conn.execute("reset role")
