"""Ranking metrics at K with binary relevance, averaged over users."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

METRICS = ("precision", "recall", "ndcg", "map")


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def user_metrics(ranked: Sequence, relevant: set, k: int) -> dict[str, float]:
    """Precision, recall, NDCG and average precision of one user's ranked list at k."""
    if not relevant:
        raise ValueError("a user without relevant items can't be scored")
    top = list(ranked[:k])
    hits = np.array([item in relevant for item in top], dtype=float)
    n_hits = hits.sum()
    disc = _discounts(k)
    dcg = float((hits * disc[: len(hits)]).sum())
    idcg = float(disc[: min(len(relevant), k)].sum())
    precisions = np.cumsum(hits) / np.arange(1, len(hits) + 1) if len(hits) else np.zeros(0)
    ap = float((precisions * hits).sum() / min(len(relevant), k))
    return {
        "precision": n_hits / k,
        "recall": n_hits / len(relevant),
        "ndcg": dcg / idcg,
        "map": ap,
    }


def mean_metrics(
    rankings: Mapping[object, Sequence], relevant: Mapping[object, set], ks: Iterable[int]
) -> dict[str, float]:
    """`{"ndcg@10": …, …}` averaged over the users in `relevant` (a missing ranking scores 0)."""
    out: dict[str, float] = {}
    users = [u for u, items in relevant.items() if items]
    for k in ks:
        totals = dict.fromkeys(METRICS, 0.0)
        for user in users:
            for name, value in user_metrics(rankings.get(user, ()), relevant[user], k).items():
                totals[name] += value
        for name in METRICS:
            out[f"{name}@{k}"] = totals[name] / len(users) if users else 0.0
    return out


def coverage(rankings: Mapping[object, Sequence], k: int, catalogue_size: int) -> float:
    """Share of the catalogue that appears in at least one top-k list."""
    shown = set()
    for ranked in rankings.values():
        shown.update(ranked[:k])
    return len(shown) / catalogue_size if catalogue_size else 0.0


def per_user_metrics(
    rankings: Mapping[object, Sequence], relevant: Mapping[object, set], ks: Iterable[int]
) -> dict[str, np.ndarray]:
    """`{"ndcg@10": array over users, …}`, users in `relevant`'s order (for intervals)."""
    users = [u for u, items in relevant.items() if items]
    out: dict[str, np.ndarray] = {}
    for k in ks:
        rows = [user_metrics(rankings.get(u, ()), relevant[u], k) for u in users]
        for name in METRICS:
            out[f"{name}@{k}"] = np.array([r[name] for r in rows], float)
    return out


def bootstrap_interval(
    values: np.ndarray, level: float = 0.95, resamples: int = 1000, seed: int = 42
) -> tuple[float, float]:
    """A percentile bootstrap interval of the mean of `values` (users resampled with
    replacement)."""
    values = np.asarray(values, float)
    if len(values) == 0:
        return (0.0, 0.0)
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    for start in range(0, resamples, 100):  # in blocks: a resamples × users index is large
        n = min(100, resamples - start)
        means[start : start + n] = values[rng.integers(0, len(values), (n, len(values)))].mean(1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return (float(low), float(high))
