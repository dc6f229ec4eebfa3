"""The one error type a user sees: `recodb` prints its message on one line and exits with 2.

Anything a user can fix (a bad flag, a bad file, a database that is not there, a registry
operation that can't be done) raises a `RecodbError` or a subclass; everything else is a bug
and keeps its traceback.
"""

from __future__ import annotations


class RecodbError(Exception):
    """A problem the user can fix, told in one line."""
