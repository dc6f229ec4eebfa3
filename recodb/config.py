"""Settings read from the environment, and where the project's files live."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _source_root() -> Path:
    """The checkout holding alembic.ini, migrations/ and sql/ (an editable install)."""
    return PACKAGE_DIR.parent


def _find_project_root(start: Path) -> Path:
    """The nearest folder at or above `start` that holds alembic.ini, else `start` itself."""
    for folder in (start, *start.parents):
        if (folder / "alembic.ini").is_file():
            return folder
    return start


def _default_home() -> Path:
    return _find_project_root(Path.cwd()) / ".recodb"


@dataclass(frozen=True)
class Settings:
    """Where the database is and where recodb keeps its local files."""

    database_url: str | None = field(default_factory=lambda: os.environ.get("DATABASE_URL") or None)
    """A PostgreSQL URL; unset means the embedded server under `home`."""

    home: Path = field(
        default_factory=lambda: (
            Path(os.environ["RECODB_HOME"]).resolve()
            if os.environ.get("RECODB_HOME")
            else _default_home()
        )
    )
    """Project-local state: the embedded server's data folder, reports, charts."""

    @property
    def pgdata(self) -> Path:
        """Data folder of the embedded PostgreSQL server."""
        return self.home / "pgdata"


def source_path(*parts: str) -> Path:
    """A path inside the source tree (migrations/, sql/, alembic.ini)."""
    return _source_root().joinpath(*parts)
