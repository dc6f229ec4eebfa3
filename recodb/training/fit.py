"""Fitting vectors: implicit ALS/BPR for the collaborative part, TF-IDF → SVD for text.

`Params` are the hyperparameters of one fit; the same data and seed give the same vectors.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits


@dataclass(frozen=True)
class Params:
    """Hyperparameters of one training run."""

    algorithm: str = "als"
    # Defaults from `recodb train --tune --trials 24` on generated data (20k users, 200k
    # posts, 2M interactions): few factors and a gentle confidence scale won (NDCG@10 0.0088
    # against 0.0044 for 64 factors, α 5, λ 1).
    factors: int = 16
    regularization: float = 0.01
    alpha: float = 1.0
    iterations: int = 25
    learning_rate: float = 0.05  # BPR only
    content_dims: int = 32
    seed: int = 42
    # Age in days at which an interaction's confidence halves, counted back from the newest
    # interaction; math.inf: no decay; None: setting training_half_life_days (train() resolves
    # it, so a stored model always says which it used).
    half_life_days: float | None = None

    def __post_init__(self) -> None:
        if self.algorithm not in ("als", "bpr"):
            raise ValueError(f"algorithm must be als or bpr, got {self.algorithm!r}")
        for name in ("factors", "iterations"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("regularization", "alpha", "learning_rate"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.content_dims < 0:
            raise ValueError(f"content_dims must be >= 0, got {self.content_dims}")
        if self.half_life_days is not None and not self.half_life_days > 0:
            raise ValueError(f"half_life_days must be > 0, got {self.half_life_days}")

    def model_params(self) -> dict:
        """The parameters that shape the collaborative model (what the registry shows)."""
        keys = ["factors", "regularization", "iterations", "seed"]
        keys += ["alpha"] if self.algorithm == "als" else ["learning_rate"]
        # JSON has no infinity: a stored null half-life means no decay.
        half_life = None if self.half_life_days == math.inf else self.half_life_days
        return {k: getattr(self, k) for k in keys} | {
            "content_dims": self.content_dims,
            "half_life_days": half_life,
        }

    @classmethod
    def from_stored(cls, algorithm: str, stored: dict) -> Params:
        """The parameters of a registered model (`model_params()` read back)."""
        known = {
            k: v for k, v in stored.items() if k in cls.__dataclass_fields__ and k != "algorithm"
        }
        if "half_life_days" in known and known["half_life_days"] is None:
            known["half_life_days"] = math.inf
        return cls(algorithm=algorithm, **known)


FitCallback = Callable[[int, np.ndarray, np.ndarray], None]

# A final ALS fit that starts from the validation fit (the same parameters on all but each
# user's latest posts) needs this share of the iterations. Nested splits (the validation
# split's training part split again; the warm fit starts from the inner fit, and both fits are
# scored on the outer held-out posts), NDCG@10 of exact inner-product top 10:
#   20k × 200k × 2M   cold 25 iterations 0.00441 (10.4 s), warm 10: 0.00446 (3.7 s),
#                     warm 6: 0.00435, a cold fit with another seed: 0.00426
#   MovieLens 100k    cold 0.1400, warm 10: 0.1415, warm 6: 0.1413, another seed: 0.1407
# and the warm fit's top 50 agree with the cold fit's about as much as two cold fits' do
# (0.869 and 0.867 at 20k, 0.876 and 0.898 on MovieLens). scripts/warm_fit_check.py measures it.
WARM_SHARE = 0.4


def warm_iterations(iterations: int) -> int:
    """Iterations of an ALS fit warm-started from a fit of the same parameters."""
    return max(1, math.ceil(WARM_SHARE * iterations))


def fit_collaborative(
    matrix: sp.csr_matrix,
    params: Params,
    callback: FitCallback | None = None,
    init: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(user factors, post factors) from implicit; deterministic for a given seed.

    ALS calls `callback(iteration, user factors, post factors)` after each iteration (the
    tuner scores and prunes there; an exception it raises ends the fit), and starts from
    `init` (user factors, post factors) when given (see WARM_SHARE)."""
    import implicit.cpu.als
    import implicit.cpu.bpr

    # implicit parallelises itself; a BLAS thread pool on top of it only fights for the cores.
    with threadpool_limits(1, "blas"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*OpenBLAS.*")
        if params.algorithm == "als":
            model = implicit.cpu.als.AlternatingLeastSquares(
                factors=params.factors,
                regularization=params.regularization,
                alpha=params.alpha,
                iterations=params.iterations,
                random_state=params.seed,
            )
        else:
            # One thread: BPR's parallel SGD is lock-free and so not reproducible.
            model = implicit.cpu.bpr.BayesianPersonalizedRanking(
                factors=params.factors,
                learning_rate=params.learning_rate,
                regularization=params.regularization,
                iterations=params.iterations,
                random_state=params.seed,
                num_threads=1,
            )
        if init is not None:
            model.user_factors = np.array(init[0], np.float32)
            model.item_factors = np.array(init[1], np.float32)
        on_epoch = None
        if callback is not None and params.algorithm == "als":

            def on_epoch(iteration: int, _elapsed: float, _loss: float | None) -> None:
                callback(iteration + 1, model.user_factors, model.item_factors)

        model.fit(matrix, show_progress=False, callback=on_epoch)
    return np.asarray(model.user_factors, np.float32), np.asarray(model.item_factors, np.float32)


def fold_in_matrix(post_factors: np.ndarray, regularization: float) -> np.ndarray:
    """(YᵀY + λI)⁻¹: a new user's vector is this times Σ confidence × post vector."""
    f = post_factors.shape[1]
    gram = post_factors.T.astype(np.float64) @ post_factors + regularization * np.eye(f)
    return np.linalg.inv(gram).astype(np.float32)


def nearest_users(user_factors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each user's k nearest other users by cosine similarity of their vectors, nearest first,
    exactly: (rows (n × k) indexing `user_factors`, similarities (n × k) float32). This is
    what serving's neighbour probe of the version's user graph approximates (slate_parts()),
    stored so that a user the model was trained on needs no probe. k is capped at n − 1."""
    from implicit.cpu.topk import topk

    n = len(user_factors)
    k = min(k, n - 1)
    if k < 1:
        return np.zeros((n, 0), np.int64), np.zeros((n, 0), np.float32)
    norms = np.linalg.norm(user_factors, axis=1, keepdims=True)
    unit = np.ascontiguousarray(user_factors / np.where(norms > 0, norms, 1), np.float32)
    rows, sims = topk(unit, unit, k + 1, num_threads=0)
    # Leave each user out of their own list: usually its first entry, but an equal vector may
    # come first (then the user may be missing, and the k + 1st is dropped instead).
    others = rows != np.arange(n)[:, None]
    order = np.argsort(~others, axis=1, kind="stable")[:, :k]
    return (
        np.take_along_axis(rows, order, axis=1).astype(np.int64),
        np.take_along_axis(sims, order, axis=1).astype(np.float32),
    )


@dataclass(frozen=True)
class TextModel:
    """What turns a text into its content vector, kept with the model version (in SQL, so that
    `recodb.post_vectors()` gives a post written after training its vector the same way):
    vector = normalise(Σ over the text's terms of (1 + ln tf) · idf · component)."""

    terms: list[str]
    idf: np.ndarray  # (n_terms,) float32
    components: np.ndarray  # (n_terms, k) float32: each term's row of the SVD projection

    @property
    def dims(self) -> int:
        return self.components.shape[1]


# scikit-learn's default, spelled out because SQL mirrors it: regexp_matches(lower(text),
# '\w\w+', 'g') finds the same maximal runs of two or more word characters.
TOKEN_PATTERN = r"(?u)\b\w\w+\b"


def content_vectors(
    texts: list[str], dims: int, seed: int
) -> tuple[np.ndarray, np.ndarray, TextModel | None]:
    """L2-normalised TF-IDF → TruncatedSVD vectors, a mask of posts without text, and the text
    model that made them (None when there is too little text)."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    n = len(texts)
    present = np.array([bool(t and t.strip()) for t in texts])
    empty = (np.zeros((n, 0), np.float32), np.ones(n, bool), None)
    if dims == 0 or present.sum() < 3:
        return empty
    rng = np.random.default_rng(seed)
    index = np.flatnonzero(present)
    # Fit on a sample: the vocabulary and the projection settle long before a million posts.
    sample = np.sort(rng.choice(index, min(len(index), 100_000), replace=False))
    vectorizer = TfidfVectorizer(
        min_df=2 if len(sample) >= 100 else 1,
        max_df=0.5,
        max_features=50_000,
        sublinear_tf=True,
        token_pattern=TOKEN_PATTERN,
        dtype=np.float32,
    )
    try:
        fitted = vectorizer.fit_transform([texts[i] for i in sample])
    except ValueError:  # no word survives the document-frequency cut
        return empty
    k = min(dims, fitted.shape[1] - 1, len(sample) - 1)
    if k < 2:
        return empty
    svd = TruncatedSVD(n_components=k, random_state=seed).fit(fitted)
    out = np.zeros((n, k), np.float32)
    for start in range(0, len(index), 100_000):
        part = index[start : start + 100_000]
        out[part] = svd.transform(vectorizer.transform([texts[i] for i in part]))
    norms = np.linalg.norm(out, axis=1)
    null = norms == 0
    out[~null] /= norms[~null, None]
    model = TextModel(
        terms=vectorizer.get_feature_names_out().tolist(),
        idf=vectorizer.idf_.astype(np.float32),
        components=np.ascontiguousarray(svd.components_.T, dtype=np.float32),
    )
    return out, null, model


def user_profiles(matrix: sp.csr_matrix, post_content: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each user's content profile: the confidence-weighted mean of their posts' vectors."""
    if post_content.shape[1] == 0:
        return np.zeros((matrix.shape[0], 0), np.float32), np.ones(matrix.shape[0], bool)
    profile = np.asarray(matrix @ post_content, dtype=np.float32)
    norms = np.linalg.norm(profile, axis=1)
    null = norms == 0
    profile[~null] /= norms[~null, None]
    return profile, null
