"""`recodb doctor`: a clean database passes; planted problems are found, each with its fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

from recodb import doctor
from recodb.data import load as loading
from recodb.data.generate import generate
from recodb.training.fit import Params
from recodb.training.train import train


def _cli(db_url: str, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": db_url, "RECODB_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "recodb.cli", "doctor", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _owner_role_exists(conn: psycopg.Connection) -> bool:
    return conn.execute(
        "select exists (select from pg_roles where rolname = %s)", (doctor.OWNER_ROLE,)
    ).fetchone()[0]


def test_clean_database_passes(db_url: str, tmp_path: Path) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        loading.load(conn, generate(60, 200, 1500, seed=4, topics=3, days=5))
        train(conn, Params(factors=4, content_dims=4, iterations=3), validate=False)
        conn.execute("select recodb.refresh()")
        owned_by_role = _owner_role_exists(conn)
    result = _cli(db_url, tmp_path, "--json")
    report = json.loads(result.stdout)
    errors = [f for f in report["findings"] if f["level"] == "error"]
    if not owned_by_role:
        # Before the revision that creates recodb_owner, the functions belong to the
        # migrating superuser: that is the one error a fresh install may have.
        errors = [f for f in errors if f["check"] != "function owners"]
    assert errors == []
    if owned_by_role:
        assert result.returncode == 0, result.stderr
        assert report["errors"] == 0


def _by_check(findings: list[doctor.Finding], check: str) -> list[doctor.Finding]:
    return [f for f in findings if f.check == check]


def test_planted_problems_are_found(db_url: str, tmp_path: Path) -> None:
    app_role = f"doctor_app_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(db_url, autocommit=True) as conn:
        loading.load(conn, generate(60, 200, 1500, seed=4, topics=3, days=5))
        train(conn, Params(factors=4, content_dims=4, iterations=3), validate=False)
        conn.execute("select recodb.refresh()")
        ident = sql.Identifier(app_role)
        try:
            # 1. Everyone may create in public.
            conn.execute("grant create on schema public to public")
            # 2. A feed app's login role without timeouts.
            conn.execute(sql.SQL("create role {} login in role recodb_feed_reader").format(ident))
            # 3. The active model lost an HNSW index ...
            index = conn.execute(
                "select i.indexrelid::regclass::text from pg_index i"
                " join pg_class c on c.oid = i.indexrelid"
                " join pg_am am on am.oid = c.relam and am.amname = 'hnsw'"
                " where i.indrelid = recodb.model_table_name('post', 1)::regclass"
                " order by 1 limit 1"
            ).fetchone()[0]
            conn.execute(sql.SQL("drop index {}").format(sql.SQL(index)))
            # ... and its text lists.
            conn.execute("drop index recodb.post_vector_v1_content_cos")
            # 4. A setting out of bounds, written past the trigger.
            conn.execute("alter table recodb.setting disable trigger user")
            conn.execute("update recodb.setting set value = '3000000000' where key = 'slate_size'")
            conn.execute("alter table recodb.setting enable trigger user")
            # 5. A model a month older than its data.
            conn.execute("update recodb.model set trained_to = trained_to - interval '30 days'")

            findings = doctor.run(conn)
            public = _by_check(findings, "public schema")
            assert [f.level for f in public] == ["error"]
            assert public[0].fix == "revoke create on schema public from public;"

            timeouts = _by_check(findings, "app role timeouts")
            mine = [f for f in timeouts if app_role in f.message]
            assert len(mine) == 1 and mine[0].level == "warning"
            assert "statement_timeout" in mine[0].message
            assert "idle_in_transaction_session_timeout" in mine[0].message
            assert f'alter role "{app_role}" set statement_timeout' in mine[0].fix

            indexes = _by_check(findings, "model indexes")
            assert [f.level for f in indexes] == ["error", "error"]
            assert "has no HNSW index" in indexes[0].message
            assert "(content, vector_cosine_ops) has no IVFFlat index" in indexes[1].message
            # 200 posts, about 200 a list, as training builds it.
            assert "using ivfflat (content vector_cosine_ops) with (lists = 1);" in indexes[1].fix

            bounds = _by_check(findings, "settings")
            assert [(f.level, f.fix) for f in bounds] == [
                ("error", "recodb settings reset slate_size")
            ]
            assert "between 10 and 500" in bounds[0].message

            age = _by_check(findings, "model age")
            assert [f.level for f in age] == ["warning"]

            assert findings[0].level == "error"  # errors first

            # The CLI: exit 1, a table, and the same findings as JSON.
            result = _cli(db_url, tmp_path)
            assert result.returncode == 1, result.stderr
            assert "revoke create on schema public from public;" in result.stdout
            assert "Traceback" not in result.stderr
            result = _cli(db_url, tmp_path, "--json")
            assert result.returncode == 1
            report = json.loads(result.stdout)
            assert report["errors"] == sum(f.level == "error" for f in findings)

            # Fixed as the findings say, they go away.
            conn.execute("revoke create on schema public from public")
            conn.execute(
                sql.SQL(
                    "alter role {} set statement_timeout = '200ms';"
                    " alter role {} set idle_in_transaction_session_timeout = '5s'"
                ).format(ident, ident)
            )
            conn.execute("update recodb.setting set value = default_value where key = 'slate_size'")
            after = doctor.run(conn)
            assert not _by_check(after, "public schema")
            assert not [f for f in _by_check(after, "app role timeouts") if app_role in f.message]
            assert not _by_check(after, "settings")

            # 8. The active model lost its serving views: every fresh slate would fail.
            conn.execute("drop view recodb_v1.user_vector")
            views = _by_check(doctor.run(conn), "model views")
            assert [f.level for f in views] == ["error"]
            assert "lacks user_vector in schema recodb_v1" in views[0].message
            conn.execute(views[0].fix)
            assert not _by_check(doctor.run(conn), "model views")

            # 7. A model trained before text got IVFFlat lists has an HNSW text graph: it
            # serves, so doctor says so (info) and does not call it missing.
            conn.execute(
                "create index post_vector_v1_content_cos on recodb.post_vector_v1"
                " using hnsw (content vector_cosine_ops)"
            )
            text = [f for f in doctor.check_model_indexes(conn) if "(content" in f.message]
            assert [f.level for f in text] == ["info"], text
            assert "HNSW graph" in text[0].message and "recodb train" in text[0].fix

            # 6. An app role itself may create in public.
            conn.execute("grant create on schema public to recodb_feed_reader")
            public = _by_check(doctor.run(conn), "public schema")
            assert {f.level for f in public} == {"error"}
            assert any("role recodb_feed_reader," in f.message for f in public)
            conn.execute("revoke create on schema public from recodb_feed_reader")
        finally:
            conn.execute(sql.SQL("drop role if exists {}").format(ident))
