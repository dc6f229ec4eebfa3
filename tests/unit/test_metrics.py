"""Ranking metrics: NDCG agrees with scikit-learn, the others with cases worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import ndcg_score

from recodb.evaluation.metrics import coverage, mean_metrics, user_metrics


def _sklearn_ndcg(ranked: list[int], relevant: set[int], k: int) -> float:
    """scikit-learn's NDCG@k of our ranking, with every item given a distinct score.

    Our metric counts positions past the end of a short ranking as misses, so k filler items
    (never relevant) follow the ranking; relevant items the ranking missed score lowest.
    Distinct scores keep scikit-learn's tie averaging out of it.
    """
    fillers = [-(i + 1) for i in range(k)]
    missed = sorted(relevant - set(ranked))
    items = [*ranked, *fillers, *missed]
    y_true = np.array([[1.0 if item in relevant else 0.0 for item in items]])
    y_score = np.array([np.arange(len(items), 0, -1, dtype=float)])
    return float(ndcg_score(y_true, y_score, k=k))


def test_ndcg_agrees_with_scikit_learn_on_random_rankings() -> None:
    rng = np.random.default_rng(2026)
    checked = {"short": 0, "ideal capped by k": 0, "ideal capped by relevant": 0}
    for _ in range(120):
        catalogue = int(rng.integers(5, 40))
        k = int(rng.integers(1, 15))
        relevant = set(rng.choice(catalogue, int(rng.integers(1, catalogue)), replace=False))
        # Rankings of any length, also shorter than k, and items outside the relevant set.
        ranked = rng.permutation(catalogue)[: int(rng.integers(0, catalogue + 1))].tolist()
        ours = user_metrics(ranked, {int(x) for x in relevant}, k)["ndcg"]
        assert ours == pytest.approx(_sklearn_ndcg(ranked, relevant, k), abs=1e-12)
        checked["short"] += len(ranked) < k
        checked["ideal capped by k"] += len(relevant) > k
        checked["ideal capped by relevant"] += len(relevant) < k
    # The random cases did reach every branch of the ideal DCG and the short rankings.
    assert min(checked.values()) > 10, checked


def test_hand_worked_ranking() -> None:
    # hits at ranks 2 and 4; three relevant items, one never ranked
    ranked, relevant = ["a", "b", "c", "d"], {"b", "d", "e"}
    m = user_metrics(ranked, relevant, 4)
    assert m["precision"] == pytest.approx(2 / 4)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["map"] == pytest.approx((1 / 2 + 2 / 4) / 3)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert m["ndcg"] == pytest.approx(dcg / ideal)

    at2 = user_metrics(ranked, relevant, 2)
    assert at2["precision"] == pytest.approx(1 / 2)
    assert at2["recall"] == pytest.approx(1 / 3)
    assert at2["map"] == pytest.approx((1 / 2) / 2)  # divided by min(|relevant|, k)
    assert at2["ndcg"] == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))


def test_short_ranking_and_ranking_without_hits() -> None:
    # One relevant item ranked first, in a list shorter than k: perfect but for precision.
    assert user_metrics(["x"], {"x"}, 5) == pytest.approx(
        {"precision": 1 / 5, "recall": 1.0, "ndcg": 1.0, "map": 1.0}
    )
    assert user_metrics(["a", "b"], {"x"}, 5) == pytest.approx(
        {"precision": 0.0, "recall": 0.0, "ndcg": 0.0, "map": 0.0}
    )
    assert user_metrics([], {"x"}, 3) == pytest.approx(
        {"precision": 0.0, "recall": 0.0, "ndcg": 0.0, "map": 0.0}
    )
    # Items past k don't count.
    assert user_metrics(["a", "b", "x"], {"x"}, 2)["recall"] == 0.0


def test_a_user_without_relevant_items_cannot_be_scored() -> None:
    with pytest.raises(ValueError, match="without relevant items"):
        user_metrics(["a"], set(), 5)


def test_mean_metrics_averages_users_and_scores_a_missing_ranking_zero() -> None:
    rankings = {"u1": ["a", "b"], "u3": ["a"]}
    relevant = {"u1": {"a"}, "u2": {"c"}, "u3": set()}  # u2 has no ranking; u3 is not scored
    got = mean_metrics(rankings, relevant, [1, 2])
    assert got == pytest.approx(
        {
            "precision@1": 1 / 2, "recall@1": 1 / 2, "ndcg@1": 1 / 2, "map@1": 1 / 2,
            "precision@2": (1 / 2) / 2, "recall@2": 1 / 2, "ndcg@2": 1 / 2, "map@2": 1 / 2,
        }
    )  # fmt: skip
    assert mean_metrics({}, {}, [10]) == {
        "precision@10": 0.0, "recall@10": 0.0, "ndcg@10": 0.0, "map@10": 0.0,
    }  # fmt: skip


def test_coverage_counts_distinct_items_in_the_top_k() -> None:
    rankings = {"u1": ["a", "b", "c"], "u2": ["c", "d", "e"], "u3": []}
    assert coverage(rankings, 2, 10) == pytest.approx(4 / 10)  # a, b, c, d
    assert coverage(rankings, 3, 5) == pytest.approx(1.0)
    assert coverage(rankings, 2, 0) == 0.0
