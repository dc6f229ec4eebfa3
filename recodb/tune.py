"""Hyperparameter search on a time-based validation split, picked by NDCG@10.

A seeded random search over a grid: the first trial is the parameters given (the defaults),
the rest are distinct grid points in a reproducible order.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import asdict, replace

import numpy as np

from recodb.train import Params, Validation

GRIDS: dict[str, dict[str, list]] = {
    "als": {
        "factors": [8, 16, 32, 64],
        "regularization": [0.01, 0.1, 1.0, 10.0, 50.0],
        "alpha": [1.0, 5.0, 10.0, 20.0, 40.0],
        "iterations": [10, 15, 25],
    },
    "bpr": {
        "factors": [8, 16, 32, 64],
        "learning_rate": [0.01, 0.05, 0.1],
        "regularization": [0.001, 0.01, 0.1],
        "iterations": [50, 100, 200],
    },
}
METRIC = "ndcg@10"


def candidates(base: Params, trials: int) -> list[Params]:
    grid = GRIDS[base.algorithm]
    points = list(itertools.product(*grid.values()))
    order = np.random.default_rng(base.seed).permutation(len(points))
    out = [base]
    for i in order:
        p = replace(base, **dict(zip(grid, points[i], strict=True)))
        if p not in out:
            out.append(p)
        if len(out) >= trials:
            break
    return out


def search(
    validation: Validation,
    base: Params,
    trials: int,
    on_trial: Callable[[str], None] | None = None,
) -> dict:
    """Score `trials` parameter sets; returns the record stored in recodb.model.tuning."""
    report = on_trial or (lambda _: None)
    results = []
    best: tuple[float, int] | None = None
    for n, params in enumerate(candidates(base, trials), 1):
        started = time.perf_counter()
        metrics = validation.score(params)
        seconds = round(time.perf_counter() - started, 2)
        results.append({"params": params.model_params(), "metrics": metrics, "seconds": seconds})
        if best is None or metrics[METRIC] > best[0]:
            best = (metrics[METRIC], n - 1)
        report(
            f"trial {n}/{trials}: {METRIC} {metrics[METRIC]:.4f} "
            f"(best {best[0]:.4f}) {params.model_params()}"
        )
    assert best is not None
    chosen = candidates(base, trials)[best[1]]
    return {
        "metric": METRIC,
        "split_at": validation.split_at,
        "users": len(validation.users),
        "trials": results,
        "best": asdict(chosen),
        "best_metrics": results[best[1]]["metrics"],
    }
