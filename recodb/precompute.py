"""Precomputed slates for recently active users (`recodb precompute`, `refresh --precompute`).

The work is `recodb.precompute()` in SQL; this drives it on several connections at once, each
taking its own share of the users (by hash) in batches that commit as they go, so a large run
shows progress, holds no lock for long and loses little when interrupted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from recodb import db


@dataclass(frozen=True)
class Precomputed:
    users: int
    seconds: float


def active_users(conn, active_days: float) -> int:
    return conn.execute(
        "select count(distinct user_id) from user_interaction"
        " where created_at > now() - make_interval(secs => %s * 86400)",
        (active_days,),
    ).fetchone()[0]


def precompute(
    database: db.Database,
    active_days: float = 7,
    *,
    jobs: int = 2,
    batch: int = 500,
    on_users: Callable[[int], None] | None = None,
) -> int:
    """Store slates for every user active in the last `active_days` who lacks a valid one;
    returns how many were stored."""
    tick = on_users or (lambda _: None)
    done = [0] * jobs
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(share: int) -> None:
        try:
            with database.connect(autocommit=True) as conn:
                after = None
                while True:
                    users, last = conn.execute(
                        "select * from recodb.precompute(%s, %s, %s, %s, %s)",
                        (active_days, after, batch, jobs, share),
                    ).fetchone()
                    if last is None:
                        return
                    after = last
                    done[share] += users
                    with lock:
                        tick(users)
        except BaseException as exc:  # reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(share,)) for share in range(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return sum(done)
