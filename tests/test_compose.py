"""docker-compose.yml, read (no Docker engine runs here): every `recodb` command it runs exists
in the CLI, the database listens on localhost only with a password that is not a default, and
every environment variable it sets is one that the program in that container reads."""

from __future__ import annotations

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
import yaml
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from recodb import embedded

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict] = COMPOSE["services"]
POSTGRES_IMAGE = re.compile(r"^pgvector/pgvector:pg(\d+)$")
# The postgres image's own variables (https://hub.docker.com/_/postgres).
POSTGRES_IMAGE_VARIABLES = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "PGDATA"}
QUOTED_NAME = re.compile(r"""["']([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)["']""")


def _command(service: dict) -> list[str]:
    command = service.get("command", [])
    return command.split() if isinstance(command, str) else list(command)


def _leading_words(words: list[str]) -> list[str]:
    """`refresh --every 300` -> `refresh`; `models list` -> `models list`."""
    leading = []
    for word in words:
        if word.startswith("-"):
            break
        leading.append(word)
    return leading


def _recodb_commands() -> set[tuple[str, ...]]:
    """Each `recodb ...` command a service runs, without its options."""
    return {
        tuple(_leading_words(_command(service)[1:]))
        for service in SERVICES.values()
        if _command(service)[:1] == ["recodb"]
    }


def _recodb_help(words: tuple[str, ...] | list[str]) -> subprocess.CompletedProcess[str]:
    """`recodb <words> --help` with the console script the image runs."""
    script = Path(sys.executable).with_name("recodb")
    return subprocess.run(
        [str(script), *words, "--help"],
        cwd=ROOT,
        env=os.environ | {"COLUMNS": "200", "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _names_read(files: list[Path], reads_environment: re.Pattern[str]) -> set[str]:
    """Environment variable names in the sources that read the environment: quoted upper-case
    names (`os.environ.get("X")`, `_int("X", ...)`, `integerFromEnv("X", ...)`) in a file that
    matches `reads_environment`, and `process.env.X`."""
    names: set[str] = set()
    for path in files:
        text = path.read_text()
        if reads_environment.search(text):
            names |= set(QUOTED_NAME.findall(text))
            names |= set(re.findall(r"process\.env\.([A-Z][A-Z0-9_]*)", text))
    return names


def _python_sources() -> list[Path]:
    return [p for folder in ("recodb", "api", "migrations") for p in (ROOT / folder).rglob("*.py")]


def _web_sources() -> list[Path]:
    example = ROOT / "examples" / "nextjs"
    return [
        p
        for pattern in ("*.ts", "*.tsx")
        for p in example.rglob(pattern)
        if "node_modules" not in p.parts and ".next" not in p.parts
    ]


def _shell_reads(path: Path) -> set[str]:
    return set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", path.read_text()))


def _allowed(service: dict) -> set[str]:
    """What the program of this service reads from its environment."""
    if POSTGRES_IMAGE.match(service.get("image", "")):
        scripts = {
            ROOT / volume.split(":")[0]
            for volume in service.get("volumes", [])
            if "docker-entrypoint-initdb.d" in volume
        }
        return POSTGRES_IMAGE_VARIABLES | {n for s in scripts for n in _shell_reads(s)}
    target = service.get("build", {}).get("target")
    if target == "web":
        return _names_read(_web_sources(), re.compile(r"process\.env"))
    assert target == "app", f"a service built from an unknown target: {target}"
    return _names_read(_python_sources(), re.compile(r"os\.environ|getenv"))


def test_the_services_the_issue_names() -> None:
    assert {"db", "migrate", "api", "refresher", "trainer", "web"} <= set(SERVICES)
    assert POSTGRES_IMAGE.match(SERVICES["db"]["image"])
    assert int(POSTGRES_IMAGE.match(SERVICES["db"]["image"]).group(1)) >= 16
    assert "healthcheck" in SERVICES["db"]
    assert _command(SERVICES["migrate"]) == ["alembic", "upgrade", "head"]
    assert _command(SERVICES["refresher"]) == ["recodb", "refresh", "--every", "300"]
    assert _command(SERVICES["trainer"]) == ["recodb", "train"]
    assert SERVICES["trainer"]["profiles"] == ["train"]  # on demand only
    assert _command(SERVICES["api"])[:2] == ["recodb", "serve"]
    assert SERVICES["web"]["build"]["target"] == "web"


@pytest.mark.parametrize("words", sorted(_recodb_commands()), ids=" ".join)
def test_every_recodb_command_exists(words: tuple[str, ...]) -> None:
    done = _recodb_help(words)
    assert done.returncode == 0, f"`recodb {' '.join(words)}` is not a command:\n{done.stderr}"


def test_every_recodb_option_exists() -> None:
    for name, service in SERVICES.items():
        words = _command(service)
        if words[:1] != ["recodb"]:
            continue
        command = _leading_words(words[1:])
        done = _recodb_help(command)
        assert done.returncode == 0, f"{name}: `recodb {' '.join(command)}` is not a command"
        for option in (w for w in words if w.startswith("--")):
            assert option in done.stdout, f"{name}: `recodb {' '.join(command)}` has no {option}"


def test_the_database_listens_on_localhost_only() -> None:
    published = [
        (name, str(port))
        for name, service in SERVICES.items()
        for port in service.get("ports", [])
        if str(port).split(":")[-1].split("/")[0] == "5432"
    ]
    assert published, "db publishes no port 5432"
    for name, port in published:
        assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond localhost"
    # No service publishes anything on every interface.
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port}"


def test_no_default_passwords() -> None:
    password = SERVICES["db"]["environment"]["POSTGRES_PASSWORD"]
    assert re.fullmatch(r"\$\{POSTGRES_PASSWORD:\?[^}]+\}", password), password
    text = (ROOT / "docker-compose.yml").read_text()
    assert not re.search(r"://[^:/@\s]+:postgres@", text), "a URL with the password 'postgres'"
    for name, service in SERVICES.items():
        for key, value in (service.get("environment") or {}).items():
            if key.endswith("_URL") and "@" in str(value):
                credentials = str(value).split("://", 1)[1].split("@", 1)[0]
                assert ":${" in credentials, f"{name}: {key} has a literal password"


def test_no_service_of_ours_logs_in_as_the_superuser() -> None:
    for name, service in SERVICES.items():
        for key, value in (service.get("environment") or {}).items():
            if key.endswith("_URL"):
                assert "://postgres:" not in str(value), f"{name}: {key} logs in as postgres"
    assert "://postgres:" not in " ".join(_command(SERVICES["grants"]))


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_environment_variable_is_read(name: str) -> None:
    service = SERVICES[name]
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    unread = set(environment) - _allowed(service)
    assert not unread, f"{name} sets variables its program never reads: {sorted(unread)}"


def test_the_allowlists_are_not_empty() -> None:
    """The readers above find what the code reads (a guard against a regex that finds
    nothing and so would only pass services without environment)."""
    python = _names_read(_python_sources(), re.compile(r"os\.environ|getenv"))
    assert {"DATABASE_URL", "RECODB_HOME"} <= python
    web = _names_read(_web_sources(), re.compile(r"process\.env"))
    assert {"RECODB_DATABASE_URL", "DATABASE_URL", "RECODB_STATEMENT_TIMEOUT_MS"} <= web
    assert {"RECODB_ADMIN_PASSWORD", "FEED_APP_PASSWORD"} <= _shell_reads(ROOT / "docker/initdb.sh")


def test_env_example_lists_every_variable_the_file_needs() -> None:
    needed = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", (ROOT / "docker-compose.yml").read_text()))
    listed = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M))
    assert needed == listed


@pytest.fixture(scope="module")
def compose_like_server() -> Iterator[str]:
    """A server of its own (the compose roles have fixed names, and roles are per server),
    set up the way the `db`, `migrate` and `grants` services set it up: docker/initdb.sh as
    the superuser, `alembic upgrade head` as recodb_admin, docker/grants.sql as recodb_admin.
    Returns its socket folder. (Passwords are not checked: the embedded server trusts its
    socket; the image checks them with scram-sha-256.)"""
    folder = Path(tempfile.mkdtemp(prefix="recodb-compose-"))
    pgdata = folder / "pgdata"
    try:
        parts = conninfo_to_dict(embedded.ensure_running(pgdata))
        host, superuser = parts["host"], parts.get("user", "postgres")
        with psycopg.connect(make_conninfo(host=host, user=superuser, dbname="postgres")) as conn:
            conn.autocommit = True
            conn.execute("create database feed")
        psql = str(embedded.binary("psql"))

        def run(command: list[str], env: dict[str, str] | None = None) -> None:
            done = subprocess.run(
                command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
            )
            assert done.returncode == 0, f"{command[0]}: {done.stderr}"

        run(
            ["sh", "docker/initdb.sh"],
            os.environ
            | {n: "unchecked" for n in _shell_reads(ROOT / "docker/initdb.sh")}
            | {
                "PATH": f"{embedded.binary('psql').parent}:{os.environ['PATH']}",
                "PGHOST": host,
                "POSTGRES_USER": superuser,
                "POSTGRES_DB": "feed",
            },
        )
        admin = make_conninfo(host=host, user="recodb_admin", dbname="feed")
        alembic = str(Path(sys.executable).with_name("alembic"))
        run([alembic, "upgrade", "head"], os.environ | {"DATABASE_URL": admin})
        run([psql, admin, "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-f", "docker/grants.sql"])
        yield host
    finally:
        embedded.stop(pgdata)
        shutil.rmtree(folder, ignore_errors=True)


def _as(host: str, role: str) -> psycopg.Connection:
    return psycopg.connect(make_conninfo(host=host, user=role, dbname="feed"), autocommit=True)


def test_the_compose_roles_do_their_jobs_and_no_more(compose_like_server: str) -> None:
    host = compose_like_server
    roles = ("recodb_admin", "recodb_api", "recodb_refresher", "feed_app", "feed_web")
    with _as(host, "recodb_admin") as conn:
        assert conn.execute(
            "select count(*) from pg_roles where rolname = any(%s) and not rolsuper", (list(roles),)
        ).fetchone()[0] == len(roles)
    # The refresher service's command, as its role.
    refresher = make_conninfo(host=host, user="recodb_refresher", dbname="feed")
    done = subprocess.run(
        [str(Path(sys.executable).with_name("recodb")), "refresh"],
        cwd=ROOT,
        env=os.environ | {"DATABASE_URL": refresher},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    with _as(host, "recodb_refresher") as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select * from user_interaction limit 1")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select recodb.activate_model(1)")
    with _as(host, "feed_app") as conn:
        assert conn.execute("show statement_timeout").fetchone()[0] == "200ms"
        assert conn.execute("select count(*) from recodb.trending(5)").fetchone()[0] == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select * from posts limit 1")
    with _as(host, "feed_web") as conn:
        conn.execute("select id from posts limit 1")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select * from user_interaction limit 1")
    with _as(host, "recodb_api") as conn:
        assert conn.execute(
            "select has_function_privilege("
            "'recodb.track_interaction(uuid, uuid, text, jsonb)', 'execute')"
        ).fetchone()[0]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select * from posts limit 1")
