"""The blend learner and the bootstrap intervals, without a database, on synthetic data whose
answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from recodb.evaluation.metrics import bootstrap_interval, user_metrics
from recodb.training.blend import PARTS, Slates, fit_blend


def _slates(signal: str, users: int = 300, candidates: int = 60, seed: int = 0) -> Slates:
    """Every part is uniform noise except `signal`, which is high on the relevant candidates
    (3 of each user's), with enough noise that ranking by it alone is not perfect."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(users):
        parts = rng.random((candidates, len(PARTS)))
        labels = np.zeros(candidates, bool)
        labels[rng.choice(candidates, 3, replace=False)] = True
        column = PARTS.index(signal)
        parts[:, column] = np.clip(0.45 * labels + rng.random(candidates) * 0.7, 0, 1)
        rows.append((parts, labels, 3, np.ones(candidates, np.int16)))
    return Slates.from_users(rows)


@pytest.mark.parametrize("signal", ["trending", "content", "following"])
def test_the_blend_weighs_the_part_that_carries_the_signal(signal: str) -> None:
    slates = _slates(signal)
    blend = fit_blend(slates)
    weights = blend["weights"]
    assert max(weights, key=weights.get) == signal, weights
    assert weights[signal] > 0.5, weights
    assert all(w >= 0 for w in weights.values()) and abs(sum(weights.values()) - 1) < 1e-4
    assert blend["ndcg@10"] > 2 * blend["collaborative_only_ndcg@10"], blend
    assert blend["shrink"] == 1.0  # a part this much better is kept whole


def test_never_worse_than_pure_collaborative_ranking() -> None:
    for seed in range(3):
        slates = _slates("collaborative", users=60, seed=seed)
        blend = fit_blend(slates)
        assert blend["ndcg@10"] >= blend["collaborative_only_ndcg@10"]
        assert blend["weights"]["collaborative"] > 0.5


def test_one_standard_error_takes_back_what_noise_won() -> None:
    """Parts that are pure noise win a little NDCG on 60 users by chance, and the best blend
    on the split takes them in; the rule moves back towards pure collaborative ranking as far
    as one standard error of the per-user difference allows."""
    shrinks = []
    for seed in range(6):
        blend = fit_blend(_slates("collaborative", users=60, seed=seed))
        assert blend["weights"]["collaborative"] >= blend["best_weights"]["collaborative"]
        assert blend["collaborative_only_ndcg@10"] <= blend["ndcg@10"] <= blend["best_ndcg@10"]
        t = blend["shrink"]
        shrinks.append(t)
        best = np.array([blend["best_weights"][p] for p in PARTS])
        assert np.allclose([blend["weights"][p] for p in PARTS],
                           t * best + (1 - t) * np.eye(len(PARTS))[0], atol=1e-5)  # fmt: skip
    assert min(shrinks) == 0.0 and np.mean(shrinks) < 0.6, shrinks


def test_ndcg_matches_the_metrics_module() -> None:
    slates = _slates("recency", users=40, candidates=25, seed=5)
    scores = slates.parts[..., PARTS.index("recency")]
    expected = []
    for u in range(40):
        order = np.argsort(-scores[u], kind="stable")
        relevant = set(np.flatnonzero(slates.labels[u]).tolist())
        expected.append(user_metrics(order.tolist(), relevant, 10)["ndcg"])
    assert slates.ndcg(scores) == pytest.approx(np.mean(expected))


def _synthetic_ndcg(rng: np.random.Generator, users: int) -> np.ndarray:
    """Per-user NDCG@10 of rankings that put each user's one relevant post at a geometric
    rank (a good recommender ranks it high, not always first)."""
    rank = rng.geometric(0.15, users) - 1
    return np.where(rank < 10, 1 / np.log2(rank + 2), 0.0)


def test_bootstrap_intervals_cover_the_truth() -> None:
    rng = np.random.default_rng(11)
    truth = _synthetic_ndcg(rng, 2_000_000).mean()
    covered, widths = 0, []
    experiments = 150
    for n in range(experiments):
        low, high = bootstrap_interval(_synthetic_ndcg(rng, 300), resamples=500, seed=n)
        covered += low <= truth <= high
        widths.append(high - low)
    # 95 % intervals: about 142 of 150 cover (a binomial 95 % range is roughly 136..148).
    assert 0.89 <= covered / experiments <= 0.995, covered
    # …and they are not trivially wide: about 4 standard errors of a mean of 300 users.
    sd = _synthetic_ndcg(rng, 100_000).std()
    assert np.mean(widths) == pytest.approx(2 * 1.96 * sd / np.sqrt(300), rel=0.15)


def test_bootstrap_interval_of_nothing_and_of_a_constant() -> None:
    assert bootstrap_interval(np.array([])) == (0.0, 0.0)
    assert bootstrap_interval(np.full(50, 0.25)) == pytest.approx((0.25, 0.25))
