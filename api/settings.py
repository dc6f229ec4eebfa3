"""The HTTP app's settings, read from the environment in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

RATE_UNITS = ("second", "minute", "hour", "day")


def _env(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def _int(name: str, default: int, minimum: int = 0) -> int:
    raw = _env(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}: expected a whole number, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name}: expected >= {minimum}, got {value}")
    return value


def _float(name: str, default: float) -> float:
    raw = _env(name, str(default))
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}: expected a number, got {raw!r}") from None
    if not value > 0:
        raise ValueError(f"{name}: expected > 0, got {raw!r}")
    return value


def _bool(name: str, default: bool) -> bool:
    raw = _env(name, "1" if default else "0").lower()
    if raw not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
        raise ValueError(f"{name}: expected true or false, got {raw!r}")
    return raw in ("1", "true", "yes", "on")


def parse_rate(value: str) -> tuple[str, int] | None:
    """'100/second' -> ('second', 100); 'off' (or '0') -> None."""
    if value.strip().lower() in ("off", "0", "none"):
        return None
    count, _, unit = value.partition("/")
    unit = unit.strip().lower().removesuffix("s") or "second"
    if not count.strip().isdigit() or int(count) < 1 or unit not in RATE_UNITS:
        raise ValueError(
            f"RECODB_TRACK_RATE_LIMIT: expected N/unit (unit one of {', '.join(RATE_UNITS)}) "
            f"or 'off', got {value!r}"
        )
    return unit, int(count)


@dataclass(frozen=True)
class ApiSettings:
    """How the HTTP app connects and protects itself; `ApiSettings()` reads the environment."""

    database_url: str | None = field(default_factory=lambda: os.environ.get("DATABASE_URL") or None)
    """DATABASE_URL: the PostgreSQL to serve from; unset means recodb's embedded server."""

    api_token: str | None = field(
        default_factory=lambda: os.environ.get("RECODB_API_TOKEN") or None
    )
    """RECODB_API_TOKEN: when set, `Authorization: Bearer <token>` is required but on /health."""

    statement_timeout_ms: int = field(
        default_factory=lambda: _int("RECODB_STATEMENT_TIMEOUT_MS", 1000, 1)
    )
    """RECODB_STATEMENT_TIMEOUT_MS: a query running longer is cancelled and answered with 503."""

    pool_min_size: int = field(default_factory=lambda: _int("RECODB_POOL_MIN_SIZE", 2, 0))
    """RECODB_POOL_MIN_SIZE: connections kept open per worker process."""

    pool_max_size: int = field(default_factory=lambda: _int("RECODB_POOL_MAX_SIZE", 10, 1))
    """RECODB_POOL_MAX_SIZE: connections at most per worker process."""

    pool_timeout_s: float = field(default_factory=lambda: _float("RECODB_POOL_TIMEOUT_S", 2.0))
    """RECODB_POOL_TIMEOUT_S: how long a request waits for a connection before a 503."""

    reconnect_timeout_s: float = field(
        default_factory=lambda: _float("RECODB_RECONNECT_TIMEOUT_S", 2.0)
    )
    """RECODB_RECONNECT_TIMEOUT_S: a failing reconnection gives up (and a request starts a new
    one) after this long, so the pool's backoff never outgrows it once the database is back."""

    retry_after_s: int = field(default_factory=lambda: _int("RECODB_RETRY_AFTER_S", 2, 1))
    """RECODB_RETRY_AFTER_S: the Retry-After of a 503 (database unreachable or too slow)."""

    track_rate_limit: tuple[str, int] | None = field(
        default_factory=lambda: parse_rate(_env("RECODB_TRACK_RATE_LIMIT", "100/second"))
    )
    """RECODB_TRACK_RATE_LIMIT: tracking requests per client address, as N/unit or 'off'."""

    log_level: str = field(default_factory=lambda: _env("RECODB_LOG_LEVEL", "INFO").upper())
    """RECODB_LOG_LEVEL: DEBUG, INFO, WARNING or ERROR (logs are JSON lines on stderr)."""

    access_log: bool = field(default_factory=lambda: _bool("RECODB_ACCESS_LOG", True))
    """RECODB_ACCESS_LOG: log one JSON line per request."""

    def __post_init__(self) -> None:
        if self.pool_min_size > self.pool_max_size:
            raise ValueError(
                f"RECODB_POOL_MIN_SIZE ({self.pool_min_size}) exceeds "
                f"RECODB_POOL_MAX_SIZE ({self.pool_max_size})"
            )
