"""`--tune`'s candidates: the base first, then distinct grid points, reproducible per seed."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import pytest

from recodb.training.fit import Params
from recodb.training.validation import GRIDS, candidates

BASES = {
    "als": Params(algorithm="als", seed=7),  # the defaults are a point of the ALS grid
    "bpr": Params(algorithm="bpr", seed=7, iterations=25),  # 25 is not in the BPR grid
}


def _grid_size(algorithm: str) -> int:
    return math.prod(len(values) for values in GRIDS[algorithm].values())


def _in_grid(p: Params) -> bool:
    return all(getattr(p, name) in values for name, values in GRIDS[p.algorithm].items())


def _point(p: Params) -> tuple:
    return tuple(getattr(p, name) for name in GRIDS[p.algorithm])


@pytest.mark.parametrize("algorithm", ["als", "bpr"])
def test_base_first_then_distinct_grid_points(algorithm: str) -> None:
    base = BASES[algorithm]
    tried = candidates(base, 12)
    assert len(tried) == 12
    assert tried[0] == base
    assert len(set(tried)) == len(tried)
    for p in tried[1:]:
        assert _in_grid(p), p
        # Only the grid's parameters move; the rest (seed, content_dims, ...) is the base's.
        assert replace(p, **{name: getattr(base, name) for name in GRIDS[algorithm]}) == base


@pytest.mark.parametrize("algorithm", ["als", "bpr"])
def test_reproducible_for_a_seed_and_different_for_another(algorithm: str) -> None:
    base = BASES[algorithm]
    assert candidates(base, 10) == candidates(base, 10)
    other = candidates(replace(base, seed=8), 10)
    assert [_point(p) for p in other[1:]] != [_point(p) for p in candidates(base, 10)[1:]]


@pytest.mark.parametrize("algorithm", ["als", "bpr"])
def test_never_more_than_the_grid(algorithm: str) -> None:
    base = BASES[algorithm]
    everything = candidates(base, 10 * _grid_size(algorithm))
    points = [_point(p) for p in everything]
    assert len(set(points)) == len(points)
    # Every grid point once, and the base (an extra point only when it lies off the grid).
    assert set(points) == set(itertools.product(*GRIDS[algorithm].values())) | {_point(base)}
    assert len(everything) == _grid_size(algorithm) + (not _in_grid(base))
    assert _in_grid(BASES["als"]) and not _in_grid(BASES["bpr"])


def test_two_trials_are_the_base_and_one_point() -> None:
    tried = candidates(BASES["als"], 2)
    assert len(tried) == 2 and tried[0] == BASES["als"] and _in_grid(tried[1])
