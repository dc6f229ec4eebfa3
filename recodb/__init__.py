"""recodb: a Postgres-native recommender for social feeds."""

from collections.abc import Callable

Step = Callable[[str], None]
"""A progress callback: told, in a few words, what is happening now."""
