"""Splitting an interaction log into train and test files by evaluate's per-user rule."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import numpy as np
import pytest

from recodb.data import importer
from recodb.evaluation.evaluate import EvaluationError, split_log


def _log(seed: int = 0) -> importer.ParsedLog:
    """30 users with 2 to 30 rated items each, over a 1990s year (as MovieLens 100k)."""
    rng = np.random.default_rng(seed)
    start = importer.EPOCH + timedelta(days=365 * 27)
    log = importer.ParsedLog()
    for u in range(30):
        items = rng.choice(200, int(rng.integers(2, 31)), replace=False)
        for i in items:
            rating = float(rng.integers(1, 6))
            log.users.append(str(u))
            log.items.append(str(i))
            log.ratings.append(rating)
            log.types.append(importer.interaction_type_for_rating(rating))
            log.times.append(start + timedelta(seconds=int(rng.integers(0, 365 * 86400))))
    # A second touch of a pair: the pair goes to one side whole.
    log.users.append("0")
    log.items.append(log.items[0])
    log.ratings.append(5.0)
    log.types.append("share")
    log.times.append(max(log.times) + timedelta(days=1))
    log.titles = {"1": "One"}
    return log


def _rows(log: importer.ParsedLog) -> Counter:
    return Counter(zip(log.users, log.items, log.types, log.ratings, log.times, strict=True))


def test_each_users_latest_posts_are_the_test() -> None:
    log = _log()
    train, test = split_log(log)
    assert _rows(train) + _rows(test) == _rows(log)  # a partition of the rows
    assert train.titles == test.titles == log.titles
    for user in set(log.users):
        first: dict[str, object] = {}
        for u, i, t in zip(log.users, log.items, log.times, strict=True):
            if u == user:
                first[i] = min(first.get(i, t), t)
        held = {i for u, i in zip(test.users, test.items, strict=True) if u == user}
        kept = {i for u, i in zip(train.users, train.items, strict=True) if u == user}
        assert not held & kept  # a (user, post) pair is on one side, every touch of it
        if len(first) < 5:
            assert not held  # too little history to hold anything out
            continue
        assert len(held) == max(1, round(0.2 * len(first)))
        assert min(first[i] for i in held) >= max(first[i] for i in kept)


def test_the_split_is_deterministic_and_random_needs_a_seed() -> None:
    log = _log()
    assert _rows(split_log(log)[1]) == _rows(split_log(log)[1])
    a, b = split_log(log, "random", seed=1)[1], split_log(log, "random", seed=2)[1]
    assert len(a) and _rows(a) != _rows(b)
    with pytest.raises(EvaluationError, match="user-latest or random"):
        split_log(log, "time")
