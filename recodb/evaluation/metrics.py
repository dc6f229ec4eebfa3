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
