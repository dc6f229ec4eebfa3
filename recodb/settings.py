"""The settings operators tune, as the database defines them (table recodb.setting).

Each key's kind, default and bounds are fixed by the migrations and enforced by the trigger
sql/internal/setting_validate.sql; this module reads them, writes values through that trigger,
and renders them (the CLI's table and the README's, which a test keeps equal). Not to be
confused with `recodb.config.Settings`, which is the environment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from recodb.errors import RecodbError


@dataclass(frozen=True)
class Setting:
    key: str
    value: Any
    default: Any
    kind: str
    min_value: Decimal
    max_value: Decimal
    description: str

    @property
    def bounds(self) -> str:
        """The accepted values, in words: `10 to 500, whole`."""
        low, high = _number(self.min_value), _number(self.max_value)
        if self.kind == "weights":
            return f"each 0 or {low} to {high}, not all 0"
        if self.kind == "whole":
            return f"{low} to {high}, whole"
        return f"{low} to {high}"


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


def show(value: Any) -> str:
    """A value as JSON, the way `recodb settings set` takes it."""
    return json.dumps(value)


def read(conn: psycopg.Connection) -> list[Setting]:
    """Every setting, by key."""
    rows = conn.execute(
        "select key, value, default_value, kind, min_value, max_value, description"
        " from recodb.setting order by key"
    ).fetchall()
    return [Setting(*row) for row in rows]


def parse_value(text: str) -> Any:
    """A value given on the command line: JSON when it parses, else the text as a string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def set_value(conn: psycopg.Connection, key: str, value: Any) -> tuple[Any, Any]:
    """Store `value` for `key` (the database validates it); returns (before, after)."""
    try:
        with conn.transaction():
            before = conn.execute(
                "select value from recodb.setting where key = %s for update", (key,)
            ).fetchone()
            if before is None:
                raise RecodbError(f"unknown setting {key!r}: {known_keys(conn)}")
            after = conn.execute(
                "update recodb.setting set value = %s where key = %s returning value",
                (Jsonb(value), key),
            ).fetchone()
    except psycopg.errors.InvalidParameterValue as exc:
        raise RecodbError(exc.diag.message_primary or str(exc)) from exc
    return before[0], after[0]


def reset(conn: psycopg.Connection, key: str) -> tuple[Any, Any]:
    """Restore `key`'s default; returns (before, after)."""
    row = conn.execute("select default_value from recodb.setting where key = %s", (key,)).fetchone()
    if row is None:
        raise RecodbError(f"unknown setting {key!r}: {known_keys(conn)}")
    return set_value(conn, key, row[0])


def known_keys(conn: psycopg.Connection) -> str:
    keys = [r[0] for r in conn.execute("select key from recodb.setting order by key")]
    return "the settings are " + ", ".join(keys)


def markdown_table(settings: list[Setting]) -> str:
    """The README's table of settings (`recodb settings list --markdown`)."""
    lines = ["| key | default | bounds | meaning |", "|---|---|---|---|"]
    for s in settings:
        lines.append(f"| `{s.key}` | `{show(s.default)}` | {s.bounds} | {s.description} |")
    return "\n".join(lines) + "\n"
