"""The HTTP skin over recodb's SQL functions (Litestar): `create_app()`, one handler per
endpoint, each calling one function of schema recodb (see DESIGN.md, "The HTTP app")."""

from api.app import create_app
from api.settings import ApiSettings

__all__ = ["ApiSettings", "create_app"]
