"""The `recodb` command as a user runs it: a subprocess, with its exit status and messages."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from helpers import count
from psycopg import sql

from recodb import schema

RECODB = [sys.executable, "-m", "recodb.cli"]


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120):
    return subprocess.run(
        [*RECODB, *args],
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


COMMANDS = {"db", "migrate", "generate", "seed", "import", "train", "models", "refresh",
            "precompute", "evaluate", "bench", "serve", "demo", "settings", "doctor"}  # fmt: skip


def test_help_lists_the_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    commands = result.stdout.split("Commands")[1]
    listed = set(re.findall(r"^│ ([a-z-]+) ", commands, re.MULTILINE))
    assert listed == COMMANDS


def test_seed_example_size_and_refusal(db_url: str) -> None:
    env = {"DATABASE_URL": db_url}
    result = run("seed", "--users", "50", "--posts", "200", "--interactions", "2000", env=env)
    assert result.returncode == 0, result.stderr
    assert "seeded 50 users, 200 posts" in result.stdout
    again = run("seed", "--users", "60", "--posts", "200", "--interactions", "2000", env=env)
    assert again.returncode == 2
    assert "already holds data" in again.stderr and "--replace" in again.stderr
    assert "Traceback" not in again.stderr
    with psycopg.connect(db_url) as conn:
        assert count(conn, "users") == 50
        assert count(conn, "user_interaction") == 2000


def test_generate_then_seed_from_the_file(db_url: str, tmp_path: Path) -> None:
    data = tmp_path / "fake.npz"
    result = run(
        "generate", "--users", "40", "--posts", "90", "--interactions", "700", "-o", str(data)
    )
    assert result.returncode == 0, result.stderr
    seeded = run("seed", "--input", str(data), env={"DATABASE_URL": db_url})
    assert seeded.returncode == 0, seeded.stderr
    with psycopg.connect(db_url) as conn:
        assert (count(conn, "users"), count(conn, "posts")) == (40, 90)
        assert count(conn, "user_interaction") == 700


def test_import_reports_the_bad_line(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "u.data"
    path.write_text("1\t2\t3\t881250949\n1\t2\t3\n")
    result = run("import", str(path), "--format", "movielens", env={"DATABASE_URL": db_url})
    assert result.returncode == 2
    assert "u.data line 2" in result.stderr and "nothing was imported" in result.stderr
    bad_format = run("import", str(path), "--format", "parquet", env={"DATABASE_URL": db_url})
    assert bad_format.returncode == 2 and "--format must be one of" in bad_format.stderr


def test_a_database_behind_on_migrations_is_not_touched(empty_db_url: str) -> None:
    result = run("seed", "--users", "5", env={"DATABASE_URL": empty_db_url})
    assert result.returncode == 2
    assert "recodb migrate" in result.stderr
    migrated = run("migrate", env={"DATABASE_URL": empty_db_url})
    assert migrated.returncode == 0, migrated.stderr
    with psycopg.connect(empty_db_url) as conn:
        assert schema.current_revision(conn) == schema.head_revision()


def test_embedded_server_lifecycle(tmp_path: Path) -> None:
    """Without DATABASE_URL: url starts the server, status reports it, stop stops it."""
    env = {"DATABASE_URL": "", "RECODB_HOME": str(tmp_path / "home")}
    url = run("db", "url", env=env)
    assert url.returncode == 0, url.stderr
    assert str(tmp_path / "home" / "pgdata") in url.stdout
    status = run("db", "status", env=env)
    assert re.search(r"\brunning\W+yes, pid \d+", status.stdout), status.stdout
    assert "pgvector" in status.stdout and "0.8" in status.stdout
    # Data survives from one command to the next.
    seeded = run("seed", "--users", "20", "--posts", "30", "--interactions", "100", env=env)
    assert seeded.returncode == 0, seeded.stderr
    again = run("seed", "--users", "20", "--posts", "30", "--interactions", "100", env=env)
    assert again.returncode == 2
    stopped = run("db", "stop", env=env)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    after = run("db", "status", env=env).stdout
    assert re.search(r"\brunning\W+no\b", after), after  # not a substring of another word


def _debian_postgres_without_pgvector() -> Path | None:
    for bindir in sorted(glob.glob("/usr/lib/postgresql/*/bin")):
        major = Path(bindir).parent.name
        has_vector = Path(f"/usr/share/postgresql/{major}/extension/vector.control").exists()
        if Path(bindir, "postgres").exists() and not has_vector:
            return Path(bindir)
    return None


@pytest.fixture
def server_without_pgvector() -> Iterator[str]:
    """A real PostgreSQL that lacks pgvector: Debian's own server, where the machine has it."""
    bindir = _debian_postgres_without_pgvector()
    if bindir is None or os.geteuid() != 0:
        pytest.skip("needs a system PostgreSQL without pgvector (Debian's postgresql package)")
    folder = Path(tempfile.mkdtemp(prefix="recodb-novector-"))
    shutil.chown(folder, "postgres", "postgres")
    folder.chmod(0o755)
    as_postgres = {"user": "postgres", "capture_output": True, "text": True, "check": True}
    subprocess.run(
        [str(bindir / "initdb"), "-D", str(folder / "data"), "-A", "trust"], **as_postgres
    )
    subprocess.run(
        [
            str(bindir / "pg_ctl"), "-D", str(folder / "data"), "-w", "-l", str(folder / "log"),
            "-o", f"-k {folder} -h '' -p 5499", "start",
        ],
        **as_postgres,
    )  # fmt: skip
    try:
        yield f"postgresql://postgres@/postgres?host={folder}&port=5499"
    finally:
        subprocess.run(
            [str(bindir / "pg_ctl"), "-D", str(folder / "data"), "-w", "stop"], **as_postgres
        )
        shutil.rmtree(folder, ignore_errors=True)


def test_a_server_without_pgvector_gets_a_clear_error(server_without_pgvector: str) -> None:
    env = {"DATABASE_URL": server_without_pgvector}
    for args in (("migrate",), ("seed", "--users", "5"), ("db", "status")):
        result = run(*args, env=env)
        output = result.stdout + result.stderr
        assert "Traceback" not in output
        if args == ("db", "status"):
            assert "not available" in output
        else:
            assert result.returncode == 2
            assert "no pgvector extension" in output and "unset DATABASE_URL" in output
    with psycopg.connect(server_without_pgvector) as conn:
        assert conn.execute("select to_regclass('users')").fetchone()[0] is None


def test_train_and_the_registry_commands(db_url: str) -> None:
    env = {"DATABASE_URL": db_url}
    assert (
        run(
            "seed", "--users", "300", "--posts", "1500", "--interactions", "30000", env=env
        ).returncode
        == 0
    )
    no_previous = run("models", "rollback", env=env)
    assert no_previous.returncode == 2 and "no previously active" in no_previous.stderr
    first = run("train", "--factors", "8", "--content-dims", "8", env=env)
    assert first.returncode == 0, first.stderr
    assert "version 1 active" in first.stdout and "build indexes" in first.stdout
    second = run("train", "--factors", "16", "--no-validate", env=env)
    assert second.returncode == 0, second.stderr
    listing = run("models", "list", env=env)
    assert listing.returncode == 0
    assert "active" in listing.stdout and "retired" in listing.stdout
    rolled = run("models", "rollback", env=env)
    assert rolled.returncode == 0 and "version 1 is active" in rolled.stdout
    missing = run("models", "activate", "99", env=env)
    assert missing.returncode == 2 and "model version 99 does not exist" in missing.stderr
    bad = run("train", "--algorithm", "svd", env=env)
    assert bad.returncode == 2 and "algorithm must be als or bpr" in bad.stderr


def test_refresh_evaluate_and_bench(db_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": db_url}
    seeded = run("seed", "--users", "300", "--posts", "2000", "--interactions", "30000",
                 "--days", "10", env=env)  # fmt: skip
    assert seeded.returncode == 0, seeded.stderr
    refreshed = run("refresh", env=env)
    assert refreshed.returncode == 0 and "trending_post" in refreshed.stdout
    cron = run("refresh", "--pg-cron", env=env)
    assert cron.returncode == 2 and "pg_cron is not available" in cron.stderr
    trained = run("train", "--factors", "8", "--content-dims", "8", "--no-validate", env=env)
    assert trained.returncode == 0, trained.stderr

    evaluated = run("evaluate", "--users", "100", "--output", str(tmp_path), env=env, timeout=300)
    assert evaluated.returncode == 0, evaluated.stderr
    for method in ("recodb", "random", "most popular", "user-KNN", "oracle"):
        assert method in evaluated.stdout
    report = json.loads(next(tmp_path.glob("evaluate-*.json")).read_text())
    assert report["metrics"]["recodb"]["ndcg@10"] > report["metrics"]["random"]["ndcg@10"]
    assert next(tmp_path.glob("evaluate-*.png")).stat().st_size > 10_000
    with psycopg.connect(db_url) as conn:
        stored = conn.execute(
            "select metrics -> 'evaluation' -> 'metrics' -> 'recodb' ->> 'ndcg@10'"
            " from recodb.model where status = 'active'"
        ).fetchone()[0]
    assert float(stored) == pytest.approx(report["metrics"]["recodb"]["ndcg@10"])

    out = tmp_path / "bench.json"
    benched = run("bench", "--queries", "20", "--json", str(out), env=env, timeout=300)
    assert benched.returncode == 0, benched.stderr
    result = json.loads(out.read_text())
    assert result["recommend_fresh"]["n"] == 20 and result["recommend_stored_slate"]["n"] == 20
    # A round trip that does nothing is the floor under every figure.
    assert 0 < result["round_trip"]["p50_ms"] < result["recommend_fresh"]["p50_ms"]
    assert "round trip (select $1)" in benched.stdout
    # The floor under a stored page: the same rows read straight from the slate table.
    assert result["slate_page_read"]["n"] == 20
    assert "page from recodb.slate" in benched.stdout
    # The same from one libpq client (pgbench): every statement ran for every bench user.
    libpq = result["libpq"]
    assert set(libpq) == {
        "round_trip",
        "recommend_stored_slate",
        "slate_page_read",
        "recommend_fresh",
    }
    assert all(r["n"] == 20 and r["p50_ms"] > 0 for r in libpq.values())
    assert libpq["round_trip"]["p50_ms"] < libpq["recommend_fresh"]["p50_ms"]
    assert "one libpq client" in benched.stdout
    assert result["recommend_during_refresh"]["errors"] == 0
    assert all(0 < r <= 1 for r in result["ann_recall_at_50"].values())


def test_evaluate_on_a_given_split(db_url: str, tmp_path: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(1)
    lines = {"train": [], "test": []}
    for user in range(60):
        group = user % 2
        for item in rng.choice(30, 14, replace=False):
            item_id = item * 2 + group  # even users like even items
            part = "train" if rng.random() < 0.8 else "test"
            stamp = 1_000_000 + (0 if part == "train" else 10_000) + int(rng.integers(0, 5000))
            lines[part].append(f"{user}\t{item_id}\t{rng.choice([4, 5])}\t{stamp}")
    (tmp_path / "train").mkdir()
    (tmp_path / "test").mkdir()
    (tmp_path / "train" / "u.data").write_text("\n".join(lines["train"]) + "\n")
    (tmp_path / "test" / "u.data").write_text("\n".join(lines["test"]) + "\n")
    result = run(
        "evaluate", "--train", str(tmp_path / "train" / "u.data"),
        "--test", str(tmp_path / "test" / "u.data"), "--output", str(tmp_path),
        env={"DATABASE_URL": db_url}, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(next(tmp_path.glob("evaluate-*.json")).read_text())
    assert "oracle" not in report["metrics"]
    assert report["metrics"]["recodb"]["ndcg@10"] > report["metrics"]["random"]["ndcg@10"]


def _seed(url: str, users: int, posts: int, interactions: int) -> None:
    """Generated data loaded in-process: the commands under test are the subprocesses."""
    from recodb.data.generate import generate
    from recodb.data.load import load

    with psycopg.connect(url) as conn:
        load(conn, generate(users, posts, interactions, seed=3, topics=5, days=10))


def _train(url: str, **params) -> int:
    from recodb.training.fit import Params
    from recodb.training.train import train

    with psycopg.connect(url, autocommit=True) as conn:
        return train(conn, Params(**params), validate=False).version


def test_train_tune_records_its_trials(db_url: str) -> None:
    _seed(db_url, 120, 400, 6_000)
    tuned = run("train", "--tune", "--trials", "3", "--content-dims", "0",
                env={"DATABASE_URL": db_url})  # fmt: skip
    assert tuned.returncode == 0, tuned.stderr
    assert "version 1 active" in tuned.stdout
    with psycopg.connect(db_url) as conn:
        params, tuning, metrics = conn.execute(
            "select params, tuning, metrics from recodb.model where version = 1"
        ).fetchone()
    assert tuning["metric"] == "ndcg@10"
    assert len(tuning["trials"]) == 3
    assert len({json.dumps(t["params"], sort_keys=True) for t in tuning["trials"]}) == 3
    # The model was trained with the best trial's parameters, and scored with its metrics.
    best = max(tuning["trials"], key=lambda t: t["metrics"]["ndcg@10"])
    assert params == best["params"]
    assert metrics["ndcg@10"] == pytest.approx(best["metrics"]["ndcg@10"])


def _blend_settings(conn: psycopg.Connection) -> tuple[dict, float]:
    values = dict(
        conn.execute(
            "select key, value from recodb.setting"
            " where key in ('blend_weights', 'recency_half_life_hours')"
        ).fetchall()
    )
    return values["blend_weights"], values["recency_half_life_hours"]


def _set_blend_settings(conn: psycopg.Connection, weights: dict, hours: float) -> None:
    from psycopg.types.json import Jsonb

    for key, value in (("blend_weights", weights), ("recency_half_life_hours", hours)):
        conn.execute("update recodb.setting set value = %s where key = %s", (Jsonb(value), key))


def test_evaluate_tune_blend_apply_stores_the_best_blend(db_url: str, tmp_path: Path) -> None:
    from recodb.evaluation.evaluate import BLENDS, HALF_LIVES

    _seed(db_url, 150, 500, 8_000)
    _train(db_url, factors=8, content_dims=0, iterations=5)  # no text vectors: fast
    off_grid = {"collaborative": 0.25, "content": 0.25, "recency": 0.5}
    with psycopg.connect(db_url, autocommit=True) as conn:
        _set_blend_settings(conn, off_grid, 6)
    result = run("evaluate", "--users", "8", "--tune-blend", "--apply", "--output",
                 str(tmp_path), env={"DATABASE_URL": db_url}, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "applied the best blend" in result.stdout
    report = json.loads(next(tmp_path.glob("evaluate-*.json")).read_text())
    searched = report["blend_search"]
    assert len(searched) == len(BLENDS) * len(HALF_LIVES)
    ndcg = [r["metrics"]["ndcg@10"] for r in searched]
    assert ndcg == sorted(ndcg, reverse=True)
    with psycopg.connect(db_url) as conn:
        weights, hours = _blend_settings(conn)
    assert (weights, hours) == (
        searched[0]["blend_weights"],
        searched[0]["recency_half_life_hours"],
    )
    assert (weights, hours) != (off_grid, 6)

    # The same model has no text: bench's text probe has nothing to ask with, and says so with
    # None (JSON null), not NaN (which is not JSON).
    from recodb.evaluation import bench
    from recodb.training import registry

    with psycopg.connect(db_url, autocommit=True) as conn:
        version = registry.active_version(conn)
        pick = "select {} from {} order by 1 limit 5"
        users = [
            r[0]
            for r in conn.execute(
                sql.SQL(pick).format(
                    sql.Identifier("user_id"), registry.model_table(conn, "user", version)
                )
            )
        ]
        posts = [
            r[0]
            for r in conn.execute(
                sql.SQL(pick).format(
                    sql.Identifier("post_id"), registry.model_table(conn, "post", version)
                )
            )
        ]
        quality = bench.ann_recall(conn, version, users, posts)
    assert quality["content"] == bench.ProbeQuality(None, None, None)
    assert all(0 < quality[kind].recall <= 1 for kind in ("inner_product", "similar_posts"))


def test_a_failing_blend_search_restores_the_settings(conn: psycopg.Connection) -> None:
    from recodb.evaluation.evaluate import _search_blend

    before = _blend_settings(conn)
    seen = []

    def step(what: str) -> None:
        seen.append(_blend_settings(conn))
        if len(seen) == 3:
            raise RuntimeError("interrupted during the third blend")

    # No users: each blend is set and scored without serving anyone.
    with pytest.raises(RuntimeError, match="interrupted"):
        _search_blend(conn, [], 10, {}, (10,), step)
    assert seen[2] != before  # the search had moved the settings...
    assert _blend_settings(conn) == before  # ...and put them back


def test_models_prune_keep_zero(db_url: str) -> None:
    _seed(db_url, 60, 200, 2_000)
    for _ in range(3):
        _train(db_url, factors=4, content_dims=0, iterations=2)
    pruned = run("models", "prune", "--keep", "0", env={"DATABASE_URL": db_url})
    assert pruned.returncode == 0, pruned.stderr
    assert re.search(r"removed versions \[(2, 1|1, 2)\]", pruned.stdout), pruned.stdout
    with psycopg.connect(db_url) as conn:
        assert conn.execute("select version, status from recodb.model").fetchall() == [
            (3, "active")
        ]
        tables = {
            (kind, v): conn.execute(
                "select to_regclass(recodb.model_table_name(%s, %s)) is not null", (kind, v)
            ).fetchone()[0]
            for kind in ("post", "user")
            for v in (1, 2, 3)
        }
    assert tables == {(kind, v): v == 3 for kind in ("post", "user") for v in (1, 2, 3)}
