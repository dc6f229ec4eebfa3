"""Scoring parameters on held-out data, and searching for the best ones (`--tune`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime

import numpy as np
import scipy.sparse as sp

from recodb.evaluation.metrics import mean_metrics
from recodb.training.fit import Params, fit_collaborative
from recodb.training.matrix import RELEVANT_TYPES, Interactions, confidence_matrix


def time_split(data: Interactions, fraction: float = 0.1) -> tuple[Interactions, Interactions]:
    """(earlier, later): the last `fraction` of the window's time span is held out."""
    start = data.created.min() if len(data.created) else data.since_us
    cut = int(data.last_us - fraction * (data.last_us - start))
    earlier = data.select(data.created < cut)
    later = data.select(data.created >= cut)
    earlier.until_us = later.since_us = cut
    return earlier, later


@dataclass
class Validation:
    """A held-out split, ready to score any parameters on."""

    train: sp.csr_matrix
    users: np.ndarray  # indices of the scored users
    relevant: dict[int, set[int]]
    split_at: str

    @classmethod
    def build(
        cls, data: Interactions, settings: dict, max_users: int = 10_000, seed: int = 42
    ) -> Validation | None:
        earlier, later = time_split(data)
        train = confidence_matrix(
            earlier, settings["interaction_weights"], settings["training_half_life_days"],
            earlier.last_us,
        )  # fmt: skip
        seen = train.tocsr()
        # Collaborative vectors can only rank posts that had interactions before the split:
        # a post first seen afterwards is the fresh-post sources' job, not this model's.
        known = np.diff(train.tocsc().indptr) > 0
        has_history = np.diff(seen.indptr) > 0
        strong = np.isin(later.kind, RELEVANT_TYPES)
        strong &= known[later.post] & has_history[later.user]
        relevant: dict[int, set[int]] = {}
        for u, p in zip(later.user[strong].tolist(), later.post[strong].tolist(), strict=True):
            relevant.setdefault(u, set()).add(p)
        # Only what the user had not touched before the split can be recommended to them.
        for u in list(relevant):
            relevant[u] -= set(seen.indices[seen.indptr[u] : seen.indptr[u + 1]].tolist())
            if not relevant[u]:
                del relevant[u]
        if len(relevant) < 5:
            return None
        users = np.array(sorted(relevant))
        if len(users) > max_users:
            users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
        split_at = datetime.fromtimestamp(earlier.until_us / 1e6, UTC).isoformat()
        return cls(train, users, {int(u): relevant[int(u)] for u in users}, split_at)

    def score(self, params: Params, k: int = 10) -> dict[str, float]:
        from implicit.cpu.topk import topk

        user_f, post_f = fit_collaborative(self.train, params)
        # Exact top-k by inner product, never recommending what the user already touched.
        ids, _ = topk(post_f, user_f[self.users], k, filter_query_items=self.train[self.users])
        rankings = {
            u: row[row >= 0].tolist() for u, row in zip(self.users.tolist(), ids, strict=True)
        }
        return mean_metrics(rankings, self.relevant, [k])


# The grids --tune samples from, per algorithm.
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
    """`base` first, then distinct grid points in a reproducible random order (scikit-learn's
    ParameterSampler samples a grid of lists without replacement)."""
    from sklearn.model_selection import ParameterSampler

    grid = GRIDS[base.algorithm]
    size = int(np.prod([len(v) for v in grid.values()]))
    sampler = ParameterSampler(grid, n_iter=min(trials, size), random_state=base.seed)
    out = [base]
    for point in sampler:
        p = replace(base, **point)
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
    tried = candidates(base, trials)
    best = 0
    for n, params in enumerate(tried):
        started = time.perf_counter()
        metrics = validation.score(params)
        seconds = round(time.perf_counter() - started, 2)
        results.append({"params": params.model_params(), "metrics": metrics, "seconds": seconds})
        if metrics[METRIC] > results[best]["metrics"][METRIC]:
            best = n
        report(
            f"trial {n + 1}/{len(tried)}: {METRIC} {metrics[METRIC]:.4f} "
            f"(best {results[best]['metrics'][METRIC]:.4f}) {params.model_params()}"
        )
    return {
        "metric": METRIC,
        "split_at": validation.split_at,
        "users": len(validation.users),
        "trials": results,
        "best": asdict(tried[best]),
        "best_metrics": results[best]["metrics"],
    }
