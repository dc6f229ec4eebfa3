"""The tuner and the validation splits, without a database, on planted data.

Two groups of users and posts (users of a group touch only their group's posts). In the
"drifting" data every user switched groups 30 days before the end: their old posts say the
opposite of what they do now, so only a short training half-life ranks their next posts well.
In the "stationary" data taste never changed and the newest days are sparse: decay throws away
what the model needs. The tuner must pick a half-life accordingly.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from recodb.data.dataset import DAY_US, INTERACTION_TYPES
from recodb.training.fit import Params, fit_collaborative, warm_iterations
from recodb.training.matrix import Interactions
from recodb.training.tuning import tune
from recodb.training.validation import Validation, split, user_split

SETTINGS = {
    "interaction_weights": {"view": 1, "click": 2, "like": 5, "comment": 8, "share": 10},
    "training_half_life_days": 14,
}
LIKE = INTERACTION_TYPES.index("like")
END = 1_800_000_000 * 1_000_000  # µs


def _interactions(users, posts, created, n_users: int, n_posts: int) -> Interactions:
    order = np.argsort(created, kind="stable")
    return Interactions(
        user_ids=np.zeros((n_users, 16), np.uint8),
        post_ids=np.zeros((n_posts, 16), np.uint8),
        user=np.asarray(users, np.int32)[order],
        post=np.asarray(posts, np.int32)[order],
        kind=np.full(len(users), LIKE, np.int8),
        created=np.asarray(created, np.int64)[order],
        since_us=END - 400 * DAY_US,
        until_us=END,
    )


def planted(drift: bool, n_users: int = 160, n_posts: int = 120, seed: int = 0) -> Interactions:
    """Groups of posts 0..59 and 60..119; user u starts in group u % 2 and, with `drift`,
    moves to the other group for the last 30 days. Popularity inside a group is skewed, so
    the right group alone doesn't rank well: the model must learn which posts the group likes."""
    rng = np.random.default_rng(seed)
    half = n_posts // 2
    weights = 1 / np.arange(1, half + 1) ** 0.8
    weights /= weights.sum()
    users, posts, created = [], [], []
    for u in range(n_users):
        group = u % 2
        old = rng.choice(half, 24, replace=False, p=weights) + group * half
        users += [u] * len(old)
        posts += old.tolist()
        created += (END - rng.uniform(31, 360, len(old)) * DAY_US).astype(np.int64).tolist()
        now_group = 1 - group if drift else group
        recent = rng.choice(half, 8, replace=False, p=weights) + now_group * half
        recent = [p for p in recent if p not in set(old)]
        users += [u] * len(recent)
        posts += recent
        created += (END - rng.uniform(0, 30, len(recent)) * DAY_US).astype(np.int64).tolist()
    return _interactions(users, posts, created, n_users, n_posts)


BASE = Params(factors=8, regularization=1.0, alpha=5.0, iterations=8, content_dims=0, seed=3)


def test_user_latest_holds_out_each_users_latest_posts() -> None:
    data = planted(drift=False)
    kept, held = user_split(data, fraction=0.2, min_held=1, min_history=5)
    assert len(kept.user) + len(held.user) == len(data.user)
    for u in range(len(data.user_ids)):
        mine, theirs = held.created[held.user == u], kept.created[kept.user == u]
        n = len(mine) + len(theirs)
        assert len(mine) == max(1, round(0.2 * n)), u
        assert mine.min() >= theirs.max()  # the latest, whatever anyone else did
    # The time cut holds out only what happened at the end: here every user too, but the
    # random protocol holds out the same number per user, anywhere in their history.
    _, held_random = split(data, "random")
    assert np.bincount(held_random.user).tolist() == np.bincount(held.user).tolist()
    assert held_random.created.min() < held.created.min()


def test_users_with_too_little_history_are_not_held_out() -> None:
    data = _interactions([0, 0, 0, 1, 1, 1, 1, 1], [0, 1, 2, 0, 1, 2, 3, 4],
                         END - np.arange(8) * DAY_US, 2, 5)  # fmt: skip
    _, held = user_split(data, min_history=5)
    assert set(held.user.tolist()) == {1}
    with pytest.raises(ValueError, match="one of"):
        split(data, "sideways")


@pytest.mark.parametrize(("drift", "decays"), [(True, True), (False, False)])
def test_tuner_learns_whether_to_decay(drift: bool, decays: bool) -> None:
    validation = Validation.build(planted(drift), SETTINGS, protocol="user-latest", seed=1)
    assert validation is not None and len(validation.users) > 100
    steps: list[str] = []
    record = tune(validation, BASE, trials=14, on_trial=steps.append, algorithms=("als",))
    best = Params.from_stored(record["best"]["algorithm"], record["best"])
    assert len(record["trials"]) == 14 and record["sampler"] == "optuna TPE"
    # The base (with the setting's 14-day half-life) is always the first trial.
    assert record["trials"][0]["params"]["half_life_days"] == 14
    assert all(s.startswith("trial ") and "(best " in s for s in steps)
    # The half-life chosen matters at the chosen point: the other kind scores clearly lower.
    chosen = validation.score(best)["ndcg@10"]
    if decays:
        assert best.half_life_days <= 365, record["best"]  # the data spans 360 days
        other = validation.score(Params(**{**vars(best), "half_life_days": math.inf}))
    else:
        assert best.half_life_days >= 1000, record["best"]  # none, or as good as none
        other = validation.score(Params(**{**vars(best), "half_life_days": 3.0}))
    assert chosen > 1.2 * other["ndcg@10"], (chosen, other)
    assert record["best_metrics"]["ndcg@10"] >= max(t["metrics"]["ndcg@10"] for t in
                                                   record["trials"] if "metrics" in t)  # fmt: skip


def test_time_budget_and_pruning_are_recorded() -> None:
    validation = Validation.build(planted(True), SETTINGS, protocol="time")
    assert validation is not None and validation.protocol == "time"
    record = tune(validation, BASE, trials=200, minutes=0.05, algorithms=("als",))
    assert 1 <= len(record["trials"]) < 200  # three seconds end the search
    states = {t["state"] for t in record["trials"]}
    assert states <= {"complete", "pruned"}
    assert record["best"]["half_life_days"] is None or record["best"]["half_life_days"] > 0


def test_the_command_line_tries_the_default_number_of_trials() -> None:
    import inspect

    from recodb.cli.models import train_command
    from recodb.training.tuning import DEFAULT_TRIALS

    assert inspect.signature(train_command).parameters["trials"].default == DEFAULT_TRIALS


def test_validation_reuses_its_last_fit() -> None:
    """Validating a model and learning its blend fit the same parameters on the same split:
    the second asks for the factors the first computed, and a different point fits anew."""
    validation = Validation.build(planted(True), SETTINGS, protocol="time")
    assert validation is not None
    first = validation.fit(BASE)
    assert validation.fit(BASE) is first
    assert validation.fit(replace(BASE, factors=BASE.factors + 1)) is not first


def test_final_fit_starts_from_the_validation_fit() -> None:
    """The final ALS fit starts from the validation fit and runs warm_iterations(): split the
    validation split's training part again, start from the inner fit, and score both the warm
    and a cold fit of all iterations on the outer held-out posts."""
    outer = Validation.build(planted(False), SETTINGS, protocol="user-latest")
    assert outer is not None
    inner = Validation.build(outer.train_data, SETTINGS, protocol="user-latest")
    assert inner is not None
    params = replace(BASE, iterations=20)
    init = inner.fit(params)
    assert inner.fitted(params) is init and inner.fitted(replace(params, seed=4)) is None
    matrix = outer.matrix(SETTINGS["training_half_life_days"])
    warm_params = replace(params, iterations=warm_iterations(params.iterations))
    assert warm_params.iterations == 8
    cold = outer.rank(*fit_collaborative(matrix, params))["ndcg@10"]
    warm_f = fit_collaborative(matrix, warm_params, init=init)
    assert outer.rank(*warm_f)["ndcg@10"] >= 0.95 * cold
    # It did start there: one warm iteration lands nearer the start than one cold iteration.
    one = replace(params, iterations=1)
    near = fit_collaborative(matrix, one, init=init)[1]
    far = fit_collaborative(matrix, one)[1]
    assert np.linalg.norm(near - init[1]) < 0.5 * np.linalg.norm(far - init[1])
