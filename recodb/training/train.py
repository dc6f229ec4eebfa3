"""Training, start to end: interactions → confidence matrix → implicit ALS/BPR and TF-IDF/SVD
content vectors → pgvector tables of a new model version → indexes (HNSW graphs, IVFFlat text
lists) → activation.

A version's vectors go to its own tables (named by `recodb.model_table()`), written and
indexed in one transaction: a failed or interrupted training leaves no half-written tables,
its registry row says `failed`, and the active model keeps serving.
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from recodb import Step
from recodb.errors import RecodbError
from recodb.training import blend as blending
from recodb.training import registry
from recodb.training.fit import (
    Params,
    content_vectors,
    fit_collaborative,
    fold_in_matrix,
    nearest_users,
    warm_iterations,
)
from recodb.training.matrix import confidence_matrix, read_interactions, read_settings
from recodb.training.tuning import tune
from recodb.training.validation import Validation

TRAIN_LOCK = "recodb.train"


class TrainingError(RecodbError):
    """A training that can't start or run (no data, another one running)."""


@dataclass
class TrainResult:
    version: int
    activated: bool
    metrics: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)


def train(
    conn: psycopg.Connection,
    params: Params,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    tune_trials: int = 0,
    tune_minutes: float | None = None,
    validation_protocol: str = "user-latest",
    learn_blend: bool = True,
    validate: bool = True,
    activate: bool = True,
    on_step: Step | None = None,
) -> TrainResult:
    """Train a new model version from the database's interactions, and activate it.

    `conn` must be in autocommit mode: registry updates commit as they happen, so a crash
    leaves a visible trace, while the vectors are written in one transaction of their own.
    With validation (`validation_protocol`, see validation.py), `tune_trials` > 0 searches the
    parameters (within `tune_minutes`), and `learn_blend` learns the blend of score parts that
    the version serves with (blend.py).
    """
    step = on_step or (lambda _: None)
    if not conn.autocommit:
        raise ValueError("train() needs an autocommit connection")
    if not conn.execute("select pg_try_advisory_lock(hashtext(%s))", (TRAIN_LOCK,)).fetchone()[0]:
        raise TrainingError("another training is running on this database")
    timings: dict[str, float] = {}
    started = time.perf_counter()
    version = None
    try:
        registry.fail_stale_trainings(conn)
        version = registry.create_version(conn, params)

        def timed(name: str, fn, *args, **kwargs):
            step(name)
            t = time.perf_counter()
            out = fn(*args, **kwargs)
            timings[name] = round(time.perf_counter() - t, 3)
            return out

        settings = read_settings(conn)
        data = timed("read interactions", read_interactions, conn, since, until, with_text=True)
        if len(data.user) == 0:
            raise TrainingError("there are no interactions to train on")
        tuning = None
        blend = None
        validation = None
        metrics: dict = {}
        if params.half_life_days is None:  # the setting, unless given or tuned
            params = replace(params, half_life_days=float(settings["training_half_life_days"]))
        if tune_trials or validate:
            validation = timed(
                "validation split",
                Validation.build,
                data,
                settings,
                seed=params.seed,
                protocol=validation_protocol,
            )
            if validation is None:
                step("too little held-out data to validate; skipping")
            elif tune_trials:
                tuning = timed(
                    "tune", tune, validation, params, tune_trials, tune_minutes, on_trial=step
                )
                params = Params.from_stored(tuning["best"]["algorithm"], tuning["best"])
                metrics = tuning["best_metrics"]
            else:
                metrics = timed("validate", validation.score, params)
            if validation is not None:
                metrics = {
                    **metrics,
                    "protocol": validation.protocol,
                    "split_at": validation.split_at,
                    "users": len(validation.users),
                }

        matrix = timed(
            "confidence matrix",
            confidence_matrix,
            data,
            settings["interaction_weights"],
            params.half_life_days,
            data.last_us,
        )
        post_content, content_null, text_model = timed(
            "content vectors", content_vectors, data.post_texts, params.content_dims, params.seed
        )
        if validation is not None and learn_blend:
            blend_seconds: dict[str, float] = {}
            blend = timed(
                "learn blend",
                blending.learn_blend,
                conn,
                version,
                validation,
                params,
                post_content,
                content_null,
                on_step=step,
                seconds=blend_seconds,
            )
            timings["blend"] = blend_seconds
            if blend is not None:
                w = ", ".join(f"{k} {v:.3f}" for k, v in blend["weights"].items() if v > 0)
                step(f"blend: {w} (ndcg@10 {blend['ndcg@10']:.4f}, collaborative only "
                     f"{blend['collaborative_only_ndcg@10']:.4f})")  # fmt: skip
        # The validation fit (same parameters, all but the held-out posts) is a head start.
        init = None
        if validation is not None and params.algorithm == "als":
            init = validation.fitted(params)
        fit_params = params
        if init is not None:
            fit_params = replace(params, iterations=warm_iterations(params.iterations))
            metrics["fit"] = {"from": "validation fit", "iterations": fit_params.iterations}
        user_f, post_f = timed(
            "fit " + params.algorithm, fit_collaborative, matrix, fit_params, init=init
        )
        post_has_cf = np.diff(matrix.tocsc().indptr) > 0
        user_has_cf = np.diff(matrix.indptr) > 0
        # Serving reads a trained user's nearest users from the table instead of probing.
        neighbours = timed(
            "nearest users", nearest_users, user_f[user_has_cf], int(settings["neighbour_count"])
        )
        metrics["neighbours"] = int(neighbours[0].shape[1])

        with conn.transaction():
            timed(
                "write vectors", registry.write_vectors, conn, version, data, matrix, user_f,
                post_f, post_content, content_null, text_model, neighbours,
            )  # fmt: skip
            timings["indexes"] = timed(
                "build indexes", registry.build_indexes, conn, version, on_step=step
            )

        used = data.created
        timings["total"] = round(time.perf_counter() - started, 3)
        timings["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        conn.execute(
            """
            update recodb.model set status = 'ready', algorithm = %(algorithm)s,
                params = %(params)s, factors = %(factors)s, content_dims = %(content_dims)s,
                trained_from = to_timestamp(%(from)s), trained_to = to_timestamp(%(to)s),
                n_users = %(n_users)s, n_posts = %(n_posts)s, n_interactions = %(n_inter)s,
                metrics = %(metrics)s, timings = %(timings)s, fold_in = %(fold_in)s,
                post_fold_in = %(post_fold_in)s,
                tuning = %(tuning)s, blend = %(blend)s
            where version = %(version)s
            """,
            {
                "algorithm": params.algorithm,
                "params": Jsonb(params.model_params()),
                "factors": int(post_f.shape[1]),
                "content_dims": int(post_content.shape[1]),
                "from": used.min() / 1e6,
                "to": used.max() / 1e6,
                "n_users": int(user_has_cf.sum()),
                "n_posts": int(post_has_cf.sum()),
                "n_inter": len(used),
                "metrics": Jsonb(metrics),
                "timings": Jsonb(timings),
                "fold_in": fold_in_matrix(post_f, params.regularization).ravel().tolist()
                if params.algorithm == "als"
                else None,
                "post_fold_in": fold_in_matrix(user_f, params.regularization).ravel().tolist()
                if params.algorithm == "als"
                else None,
                "tuning": Jsonb(tuning) if tuning else None,
                "blend": Jsonb(blend) if blend else None,
                "version": version,
            },
        )
        if activate:
            timed("activate", registry.activate, conn, version)
            registry.prune(conn)
        return TrainResult(version, activate, metrics, timings)
    except BaseException as exc:
        if version is not None:
            registry.mark_failed(conn, version, exc)
        raise
    finally:
        conn.execute("select pg_advisory_unlock(hashtext(%s))", (TRAIN_LOCK,))
