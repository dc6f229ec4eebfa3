"""A blend of the score parts, learned per model version on the validation split.

The validation users are served through the real scoring: the vectors fitted on the training
part go into the new version's tables for the length of one transaction that is rolled back,
and `recodb.slate_parts()` gives every candidate of each user's slate with its six parts. A
candidate is relevant when it is one of the user's held-out posts. Non-negative weights over
the parts are then chosen to maximise NDCG@10 of the re-ranked candidates: a coordinate search
that starts from pure collaborative ranking (and from a non-negative least-squares fit of the
labels) and accepts only improvements, so the blend is never worse than pure collaborative
ranking on the split. Then the one-standard-error rule: of the blends on the line from pure
collaborative ranking to the best one, the nearest to pure collaborative whose NDCG@10 is
within one standard error (of the per-user difference) of the best's. The split's
collaborative part is fitted on less than the final model (each user's latest posts are
missing), so on the split the other parts look more useful than they are in serving: on
MovieLens 100k (scripts/grid_check.py) the best blend on the split served below pure
collaborative ranking for 7 of 56 parameter sets, the strongest models among them, and the
rule's blend for 2 (by 0.001 at most). `recodb.compute_slate()` applies the
blend as Σ wᵢ · partᵢ / Σ wᵢ unless the operator pins setting `blend_weights`
(blend_weights_pinned = 1).

The engagement tables that slate_parts() reads (recent likes, trending) are, for the length of
the transaction, what refresh() would count from the training part alone (see
engagement_as_of_training()), so the held-out part reaches the blend only as its labels.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from recodb.data.dataset import INTERACTION_TYPES
from recodb.training import registry
from recodb.training.fit import Params
from recodb.training.matrix import Interactions
from recodb.training.validation import Validation

PARTS = ("collaborative", "neighbours", "content", "recency", "trending", "following")
BLEND_USERS = 500  # validation users served to learn the blend (a seeded sample)
K = 10
# The coordinate search: each weight moves to one of these multiples of the weights' sum.
STEPS = (0.0, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
ROUNDS = 4
# The one-standard-error rule's points on the line from pure collaborative ranking (0) to the
# best blend (1).
SHRINK = tuple(i / 10 for i in range(11))


@dataclass
class Slates:
    """Candidates of many users, padded to one array: parts (users × candidates × 6), labels
    (users × candidates, padding False), and each user's count of relevant posts."""

    parts: np.ndarray
    labels: np.ndarray
    valid: np.ndarray
    n_relevant: np.ndarray
    source: np.ndarray  # the slate_parts source of each candidate (0 padding)

    @classmethod
    def from_users(cls, users: list[tuple[np.ndarray, np.ndarray, int, np.ndarray]]) -> Slates:
        """From (parts (n × 6), labels (n,), relevant count, sources (n,)) per user, each
        user's candidates in post id order (the SQL's tie-break)."""
        width = max((len(p) for p, *_ in users), default=0) or 1
        parts = np.zeros((len(users), width, len(PARTS)))
        labels = np.zeros((len(users), width), bool)
        valid = np.zeros((len(users), width), bool)
        source = np.zeros((len(users), width), np.int16)
        for i, (p, y, _, s) in enumerate(users):
            parts[i, : len(p)], labels[i, : len(p)], valid[i, : len(p)] = p, y, True
            source[i, : len(p)] = s
        n_relevant = np.array([n for *_, n, _ in users], np.int64)
        return cls(parts, labels, valid, n_relevant, source)

    def user_ndcg(self, scores: np.ndarray, k: int = K) -> np.ndarray:
        """Each user's NDCG@k of ranking the candidates by `scores` (desc, ties by order)."""
        scores = np.where(self.valid, scores, -np.inf)
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        hits = np.take_along_axis(self.labels & self.valid, top, axis=1)
        discounts = 1.0 / np.log2(np.arange(2, k + 2))
        dcg = (hits * discounts[: hits.shape[1]]).sum(axis=1)
        ideal = np.cumsum(discounts)[np.clip(np.minimum(self.n_relevant, k), 1, k) - 1]
        return np.where(self.n_relevant > 0, dcg / ideal, 0.0)

    def ndcg(self, scores: np.ndarray, k: int = K) -> float:
        """Mean NDCG@k over users of ranking the candidates by `scores`."""
        return float(np.mean(self.user_ndcg(scores, k)))

    def blend_ndcg(self, weights: np.ndarray, k: int = K) -> float:
        return self.ndcg(self.parts @ weights, k)

    def seed_ndcg(self, wc: float = 0.7, wt: float = 0.2, wr: float = 0.1, k: int = K) -> float:
        """NDCG of compute_slate()'s seed formula (the user has a cf vector)."""
        p = self.parts
        collaborative = np.maximum.reduce([p[..., 0], p[..., 1], 0.5 * (self.source == 2)])
        return self.ndcg(wc * collaborative + wt * p[..., 2] + wr * p[..., 3], k)


def fit_blend(slates: Slates, k: int = K) -> dict:
    """Non-negative weights over PARTS maximising NDCG@k, never below pure collaborative."""
    from sklearn.linear_model import LinearRegression

    pure = np.eye(len(PARTS))[0]
    starts = [pure]
    rows = slates.valid.ravel()
    x, y = slates.parts.reshape(-1, len(PARTS))[rows], slates.labels.ravel()[rows]
    if y.any() and not y.all():
        coef = LinearRegression(positive=True).fit(x, y.astype(float)).coef_
        if coef.sum() > 0:
            starts.append(coef / coef.sum())
    scored = [(slates.blend_ndcg(w, k), i, w) for i, w in enumerate(starts)]
    best_value, _, best = max(scored, key=lambda t: (t[0], -t[1]))
    best = best.copy()
    for _ in range(ROUNDS):
        improved = False
        for part in range(len(PARTS)):
            total = best.sum()
            for step in STEPS:
                trial = best.copy()
                trial[part] = step * total
                if trial.sum() <= 0 or np.array_equal(trial, best):
                    continue
                value = slates.blend_ndcg(trial, k)
                if value > best_value + 1e-9:
                    best_value, best, improved = value, trial, True
        if not improved:
            break
    # The simplest blend that ranks as well: drop each part that adds nothing (one constant
    # across a slate, say, whose weight only rescales the others).
    for part in np.argsort(best):
        trial = best.copy()
        trial[part] = 0
        if trial.sum() > 0 and slates.blend_ndcg(trial, k) >= best_value:
            best = trial
    best = best / best.sum()
    chosen, shrink = one_standard_error(slates, best, k)
    return {
        "weights": {name: round(float(w), 6) for name, w in zip(PARTS, chosen, strict=True)},
        f"ndcg@{k}": slates.blend_ndcg(chosen, k),
        f"collaborative_only_ndcg@{k}": slates.blend_ndcg(pure, k),
        f"seed_blend_ndcg@{k}": slates.seed_ndcg(k=k),
        f"best_ndcg@{k}": slates.blend_ndcg(best, k),
        "best_weights": {name: round(float(w), 6) for name, w in zip(PARTS, best, strict=True)},
        "shrink": shrink,
        "users": len(slates.n_relevant),
    }


def one_standard_error(slates: Slates, best: np.ndarray, k: int = K) -> tuple[np.ndarray, float]:
    """(weights, t): the blend t · best + (1 - t) · pure collaborative with the smallest t in
    SHRINK whose mean NDCG@k is within one standard error of the best's (the standard error of
    the mean per-user difference) and not below pure collaborative ranking's."""
    pure = np.eye(len(PARTS))[0]
    top = slates.user_ndcg(slates.parts @ best, k)
    floor = slates.blend_ndcg(pure, k)
    for t in SHRINK:
        weights = t * best + (1 - t) * pure
        users = slates.user_ndcg(slates.parts @ weights, k)
        gap = top - users
        error = gap.std(ddof=1) / np.sqrt(len(gap)) if len(gap) > 1 else 0.0
        if gap.mean() <= error + 1e-12 and users.mean() >= floor:
            return weights, t
    return best, 1.0


def serve_validation(
    conn: psycopg.Connection,
    version: int,
    validation: Validation,
    post_ids: np.ndarray,
    users: np.ndarray,
    on_step: Callable[[str], None] | None = None,
) -> Slates:
    """Each user's candidates and parts from recodb.slate_parts() under `version`, labelled
    with the held-out set (any post, not only those the vectors know); posts they touched in
    the training part are excluded."""
    step = on_step or (lambda _: None)
    settings = conn.execute("select jsonb_object_agg(key, value) from recodb.setting").fetchone()
    post_uuid = [uuid.UUID(bytes=b.tobytes()) for b in post_ids]
    post_index = {p: i for i, p in enumerate(post_uuid)}
    user_uuid = validation.train_data.user_ids
    out = []
    for n, u in enumerate(users.tolist()):
        if n % 100 == 0:
            step(f"blend: serving validation user {n + 1}/{len(users)}")
        seen = validation.seen.indices[validation.seen.indptr[u] : validation.seen.indptr[u + 1]]
        rows = conn.execute(
            """
            select x.post_id, x.source, x.collaborative, x.neighbours, x.content, x.recency,
                   x.trending, x.following
            from recodb.user_taste(%(user)s, %(version)s, %(settings)s -> 'interaction_weights') t,
                 recodb.slate_parts(%(user)s, %(version)s, t.cf, t.content, %(exclude)s,
                                    %(settings)s) x
            order by x.post_id
            """,
            {
                "user": uuid.UUID(bytes=user_uuid[u].tobytes()),
                "version": version,
                "settings": Jsonb(settings[0]),
                "exclude": [post_uuid[p] for p in seen.tolist()],
            },
        ).fetchall()
        relevant = validation.any_relevant[u]
        parts = np.array([r[2:] for r in rows], float).reshape(-1, len(PARTS))
        labels = np.array([post_index.get(r[0], -1) in relevant for r in rows], bool)
        source = np.array([r[1] for r in rows], np.int16)
        out.append((np.nan_to_num(parts), labels, len(relevant), source))
    return Slates.from_users(out)


RECENT_LIKES = 20  # posts per user in recodb.user_recent_likes (as refresh() keeps it)
LIKED = tuple(INTERACTION_TYPES.index(t) for t in ("like", "comment", "share"))


def engagement_as_of_training(conn: psycopg.Connection, data: Interactions) -> None:
    """Make recodb.user_recent_likes and recodb.trending_post what refresh() would make of the
    training part alone, in the caller's transaction (which rolls back), with the training
    part's newest interaction as now.

    The database's own are counted from every interaction, the held-out ones too: a neighbour's
    recent likes would be their held-out posts, so the neighbours part (and trending) would
    look far better on the split than in serving, where what a neighbour liked next is not
    known yet. The refresh lock is held meanwhile: a refresh waits, rather than interleave."""
    conn.execute("select pg_advisory_xact_lock(pg_catalog.hashtext('recodb.refresh'))")
    settings = dict(conn.execute(
        "select key, value from recodb.setting where key in"
        " ('interaction_weights', 'trending_window_hours', 'trending_half_life_hours')"
    ).fetchall())  # fmt: skip
    n_posts = len(data.post_ids)
    # refresh() counts (post, user, type) triples once each, at their newest time.
    triple = (data.user.astype(np.int64) * n_posts + data.post) * len(INTERACTION_TYPES)
    triple += data.kind
    keys, inverse = np.unique(triple, return_inverse=True)
    last = np.full(len(keys), np.iinfo(np.int64).min)
    np.maximum.at(last, inverse, data.created)
    kind = keys % len(INTERACTION_TYPES)
    post = (keys // len(INTERACTION_TYPES)) % n_posts
    user = keys // len(INTERACTION_TYPES) // n_posts
    now = data.last_us

    # Recent likes: each user's newest liked posts (post indices follow post id order, the SQL
    # tie-break), newest first.
    liked = np.isin(kind, LIKED)
    pair = user[liked] * n_posts + post[liked]
    pairs, at_index = np.unique(pair, return_inverse=True)
    at = np.full(len(pairs), np.iinfo(np.int64).min)
    np.maximum.at(at, at_index, last[liked])
    pair_user, pair_post = pairs // n_posts, pairs % n_posts
    order = np.lexsort((pair_post, -at, pair_user))
    pair_user, pair_post = pair_user[order], pair_post[order]
    rank = np.arange(len(order)) - np.searchsorted(pair_user, pair_user, side="left")
    keep = rank < RECENT_LIKES
    pair_user, pair_post = pair_user[keep], pair_post[keep]

    # Trending: Σ type weight × 0.5^(age / half-life) over the window's triples.
    window_us = float(settings["trending_window_hours"]) * 3600e6
    half_life_us = float(settings["trending_half_life_hours"]) * 3600e6
    weights = np.array([float(settings["interaction_weights"].get(t, 0))
                        for t in INTERACTION_TYPES])  # fmt: skip
    recent = last > now - window_us
    decay = np.power(0.5, np.minimum(np.maximum(now - last[recent], 0) / half_life_us, 64))
    velocity = np.bincount(post[recent], weights[kind[recent]] * decay, minlength=n_posts)
    trending = np.unique(post[recent])

    def as_uuid(ids: np.ndarray, i: int) -> uuid.UUID:
        return uuid.UUID(bytes=ids[i].tobytes())

    conn.execute("delete from recodb.user_recent_likes")
    conn.execute("delete from recodb.trending_post")
    bounds = np.flatnonzero(np.diff(pair_user, prepend=-1, append=-1) != 0).tolist()
    with conn.cursor().copy("copy recodb.user_recent_likes (user_id, post_ids) from stdin") as cp:
        for start, end in itertools.pairwise(bounds):
            posts = [as_uuid(data.post_ids, p) for p in pair_post[start:end].tolist()]
            cp.write_row((as_uuid(data.user_ids, int(pair_user[start])), posts))
    with conn.cursor().copy("copy recodb.trending_post (post_id, velocity) from stdin") as cp:
        for p in trending.tolist():
            cp.write_row((as_uuid(data.post_ids, p), float(velocity[p])))


def learn_blend(
    conn: psycopg.Connection,
    version: int,
    validation: Validation,
    params: Params,
    post_content: np.ndarray,
    post_content_null: np.ndarray,
    on_step: Callable[[str], None] | None = None,
    seconds: dict[str, float] | None = None,
) -> dict | None:
    """Fit `params` on the validation split, serve its users under `version` in a transaction
    that is rolled back, and fit the blend; None when no user has a candidate. Each step's
    seconds go into `seconds` when given."""
    step = on_step or (lambda _: None)
    seconds = {} if seconds is None else seconds

    def timed(name: str, fn, *args):
        step(f"blend: {name}")
        started = time.perf_counter()
        out = fn(*args)
        seconds[name] = round(time.perf_counter() - started, 3)
        return out

    params = validation.resolve(params)
    user_f, post_f = timed("validation fit", validation.fit, params)
    matrix = validation.matrix(params.half_life_days)
    data = validation.train_data
    users = np.array(sorted(validation.any_relevant))
    if len(users) > BLEND_USERS:
        users = np.sort(
            np.random.default_rng(params.seed).choice(users, BLEND_USERS, replace=False)
        )
    slates = None
    with conn.transaction():
        timed("engagement as of the split", engagement_as_of_training, conn, data)
        timed(
            "write vectors", registry.write_vectors, conn, version, data, matrix, user_f, post_f,
            post_content, post_content_null,
        )  # fmt: skip
        # Draft indexes for the probes slate_parts() runs: exact scans of every post, three per
        # user, cost more (at 100k users × 1M posts this step took 531 s with them).
        for name in ("post keys", "user keys", "HNSW post inner product", "IVFFlat post content",
                     "HNSW user cosine", "analyze"):  # fmt: skip
            timed(
                f"{name} (draft)", conn.execute,
                "select recodb.index_model_table(%s, %s, true)", (version, name),
            )  # fmt: skip
        # No fold-in (the held-out interactions come after no trained_to) and no closed form.
        conn.execute(
            "update recodb.model set factors = %s, content_dims = %s, params = %s,"
            " trained_to = 'infinity', fold_in = null where version = %s",
            (post_f.shape[1], post_content.shape[1], Jsonb(params.model_params()), version),
        )
        slates = timed(
            f"serve {len(users)} users", serve_validation, conn, version, validation,
            data.post_ids, users, on_step,
        )  # fmt: skip
        raise psycopg.Rollback()
    if slates is None or not slates.valid.any():
        return None
    return timed("fit the blend", fit_blend, slates) | {"protocol": validation.protocol}
