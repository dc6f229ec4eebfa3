"""Held-out splits, and scoring parameters on them.

Three protocols (`recodb train --validation`):
- `user-latest` (default): from every user who touched at least MIN_HISTORY posts, the posts
  they touched last (a fraction, at least MIN_HELD) are held out, with every interaction on
  them. Every active user is represented, whatever the data's time span.
- `time`: the last tenth of the window's time span is held out (only the users active at the
  end are scored).
- `random`: like user-latest, but the held-out posts are a random choice of each user's.

A held-out post is relevant when the user clicked it or stronger, the post had interactions in
the training part (collaborative vectors can rank nothing else) and the user had not touched
it in the training part.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np
import scipy.sparse as sp

from recodb.evaluation.metrics import mean_metrics
from recodb.training.fit import FitCallback, Params, fit_collaborative
from recodb.training.matrix import RELEVANT_TYPES, Interactions, confidence_matrix

PROTOCOLS = ("user-latest", "time", "random")
METRIC = "ndcg@10"
TIME_FRACTION = 0.1  # `time`: share of the window's span held out
USER_FRACTION = 0.2  # `user-latest` / `random`: share of a user's posts held out…
MIN_HELD = 1  # …but at least this many
MIN_HISTORY = 5  # posts a user must have touched to be held out from


def time_split(
    data: Interactions, fraction: float = TIME_FRACTION
) -> tuple[Interactions, Interactions]:
    """(earlier, later): the last `fraction` of the window's time span is held out."""
    start = data.created.min() if len(data.created) else data.since_us
    cut = int(data.last_us - fraction * (data.last_us - start))
    earlier = data.select(data.created < cut)
    later = data.select(data.created >= cut)
    earlier.until_us = later.since_us = cut
    return earlier, later


def user_split(
    data: Interactions,
    *,
    latest: bool = True,
    fraction: float = USER_FRACTION,
    min_held: int = MIN_HELD,
    min_history: int = MIN_HISTORY,
    seed: int = 42,
) -> tuple[Interactions, Interactions]:
    """(kept, held): per user with `min_history` posts, their latest (or random) posts.

    A (user, post) pair is held out whole, every interaction on it, so that a view kept in
    training never hides the like that followed it; pairs are ordered by their first touch.
    """
    mask = held_out(
        data, latest=latest, fraction=fraction, min_held=min_held, min_history=min_history,
        seed=seed,
    )  # fmt: skip
    return data.select(~mask), data.select(mask)


def held_out(
    data: Interactions,
    *,
    latest: bool = True,
    fraction: float = USER_FRACTION,
    min_held: int = MIN_HELD,
    min_history: int = MIN_HISTORY,
    seed: int = 42,
) -> np.ndarray:
    """user_split()'s choice as a mask over the interactions (True: held out)."""
    n_posts = len(data.post_ids)
    pair = data.user.astype(np.int64) * n_posts + data.post
    keys, inverse = np.unique(pair, return_inverse=True)
    first = np.full(len(keys), np.iinfo(np.int64).max)
    np.minimum.at(first, inverse, data.created)
    pair_user = keys // n_posts
    if latest:
        order = np.lexsort((keys, first, pair_user))  # by user, then first touch, then post
    else:
        noise = np.random.default_rng(seed).random(len(keys))
        order = np.lexsort((noise, pair_user))
    users_sorted = pair_user[order]
    starts = np.searchsorted(users_sorted, users_sorted, side="left")
    ends = np.searchsorted(users_sorted, users_sorted, side="right")
    count = ends - starts
    position = np.arange(len(order)) - starts  # 0-based rank within the user
    n_held = np.maximum(min_held, np.round(fraction * count)).astype(np.int64)
    held_sorted = (count >= min_history) & (position >= count - n_held)
    held_pair = np.zeros(len(keys), bool)
    held_pair[order] = held_sorted
    return held_pair[inverse]


def split(
    data: Interactions, protocol: str = "user-latest", seed: int = 42
) -> tuple[Interactions, Interactions]:
    """(training part, held-out part) under one of PROTOCOLS."""
    if protocol == "time":
        return time_split(data)
    if protocol in ("user-latest", "random"):
        return user_split(data, latest=protocol == "user-latest", seed=seed)
    raise ValueError(f"validation protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")


@dataclass
class Validation:
    """A held-out split, ready to score any parameters on."""

    train_data: Interactions
    weights: dict[str, float]
    default_half_life: float  # setting training_half_life_days
    seen: sp.csr_matrix  # users × posts, 1 where the user touched the post in training
    users: np.ndarray  # indices of the scored users
    relevant: dict[int, set[int]]
    protocol: str
    split_at: str  # the time cut, or the protocol's description
    # Relevant posts whether or not they had interactions in the training part: what the
    # blend is learned on (fresh and trending posts reach a feed by other sources than vectors)
    any_relevant: dict[int, set[int]] = field(default_factory=dict)
    _matrices: dict[float, sp.csr_matrix] = field(default_factory=dict, repr=False)
    # The last fit: validating a model and learning its blend fit the same parameters on the
    # same split (at 100k users × 1M posts a fit took 112 s).
    _last_fit: tuple[Params, tuple[np.ndarray, np.ndarray]] | None = field(default=None, repr=False)

    @classmethod
    def build(
        cls,
        data: Interactions,
        settings: dict,
        max_users: int = 10_000,
        seed: int = 42,
        protocol: str = "user-latest",
    ) -> Validation | None:
        earlier, later = split(data, protocol, seed)
        shape = (len(data.user_ids), len(data.post_ids))
        seen = sp.csr_matrix(
            (np.ones(len(earlier.user), np.float32), (earlier.user, earlier.post)), shape=shape
        )
        seen.sum_duplicates()
        seen.data[:] = 1
        known = np.diff(seen.tocsc().indptr) > 0
        has_history = np.diff(seen.indptr) > 0
        strong = np.isin(later.kind, RELEVANT_TYPES) & has_history[later.user]
        any_relevant: dict[int, set[int]] = {}
        for u, p in zip(later.user[strong].tolist(), later.post[strong].tolist(), strict=True):
            any_relevant.setdefault(u, set()).add(p)
        # Only what the user had not touched before can be recommended to them.
        for u in list(any_relevant):
            any_relevant[u] -= set(seen.indices[seen.indptr[u] : seen.indptr[u + 1]].tolist())
            if not any_relevant[u]:
                del any_relevant[u]
        relevant = {u: {p for p in posts if known[p]} for u, posts in any_relevant.items()}
        relevant = {u: posts for u, posts in relevant.items() if posts}
        if len(relevant) < 5:
            return None
        users = np.array(sorted(relevant))
        if len(users) > max_users:
            users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
        if protocol == "time":
            split_at = datetime.fromtimestamp(earlier.until_us / 1e6, UTC).isoformat()
        else:
            split_at = f"{protocol}: {USER_FRACTION:.0%} of each user's posts (min {MIN_HELD})"
        return cls(
            earlier,
            {k: float(v) for k, v in settings["interaction_weights"].items()},
            float(settings["training_half_life_days"]),
            seen,
            users,
            {int(u): relevant[int(u)] for u in users},
            protocol,
            split_at,
            any_relevant,
        )

    def resolve(self, params: Params) -> Params:
        """`params` with the half-life made explicit (the setting when it is None)."""
        if params.half_life_days is None:
            return replace(params, half_life_days=self.default_half_life)
        return params

    def matrix(self, half_life_days: float) -> sp.csr_matrix:
        """The training part's confidence matrix under a half-life (kept for the next trial)."""
        if half_life_days not in self._matrices:
            if len(self._matrices) >= 4:
                self._matrices.pop(next(iter(self._matrices)))
            self._matrices[half_life_days] = confidence_matrix(
                self.train_data, self.weights, half_life_days, self.train_data.last_us
            )
        return self._matrices[half_life_days]

    def fit(
        self, params: Params, callback: FitCallback | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        params = self.resolve(params)
        if (factors := self.fitted(params)) is not None:
            return factors
        factors = fit_collaborative(self.matrix(params.half_life_days), params, callback)
        self._last_fit = (params, factors)
        return factors

    def fitted(self, params: Params) -> tuple[np.ndarray, np.ndarray] | None:
        """The vectors of the last fit when it was of `params` (what the final fit starts from)."""
        params = self.resolve(params)
        if self._last_fit is not None and self._last_fit[0] == params:
            return self._last_fit[1]
        return None

    def rank(
        self, user_f: np.ndarray, post_f: np.ndarray, users: np.ndarray | None = None, k: int = 10
    ) -> dict[str, float]:
        """Metrics of exact top-k by inner product, never recommending what a user touched."""
        from implicit.cpu.topk import topk

        users = self.users if users is None else users
        ids, _ = topk(post_f, user_f[users], k, filter_query_items=self.seen[users])
        rankings = {u: row[row >= 0].tolist() for u, row in zip(users.tolist(), ids, strict=True)}
        return mean_metrics(rankings, {int(u): self.relevant[int(u)] for u in users}, [k])

    def score(self, params: Params, k: int = 10) -> dict[str, float]:
        return self.rank(*self.fit(params), k=k)
