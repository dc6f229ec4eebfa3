"""`recodb train --tune`: a hyperparameter search with Optuna's TPE sampler.

The search space is what moved NDCG@10 most in our measurements (DESIGN.md): factors,
regularisation, ALS's confidence scale α, iterations, the training half-life (including none:
no decay) and the algorithm. The caller's parameters are the first trial, so tuning never ends
worse than not tuning on the validation split. Hopeless trials stop early: ALS reports NDCG@10
on a sample of the validation users at a few iterations, and Optuna's median pruner ends a trial
below the median of earlier trials at the same step. The search ends at a trial or time budget.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from recodb.training.fit import Params
from recodb.training.validation import METRIC, Validation

# Trials of `recodb train --tune` unless told: enough that the time budget (5 minutes) ends
# the search on all but small data. On MovieLens 100k (80,000 ratings) 40 trials ended it
# after one of its five minutes at α 0.65, where an exhaustive grid (scripts/grid_check.py)
# found 0.3 better: served NDCG@10 0.937 of the grid's best; 200 found α 0.36 (0.986).
DEFAULT_TRIALS = 200
# Users scored at an intermediate step of a trial (all of them at the end).
PRUNE_SAMPLE = 2000
# Iterations at which an ALS trial reports (as fractions of its iterations).
CHECKPOINTS = (0.25, 0.5)
HALF_LIVES = (1.0, 3650.0)  # days, log-uniform when the trial decays at all


def suggest(trial, base: Params, algorithms: tuple[str, ...]) -> Params:
    """One point of the search space, as Params (seed and content_dims stay the base's)."""
    algorithm = trial.suggest_categorical("algorithm", list(algorithms))
    factors = trial.suggest_int("factors", 4, 128, log=True)
    if trial.suggest_categorical("decay", [True, False]):
        half_life = trial.suggest_float("half_life_days", *HALF_LIVES, log=True)
    else:
        half_life = math.inf
    if algorithm == "als":
        values = {
            "regularization": trial.suggest_float("regularization", 1e-3, 100.0, log=True),
            "alpha": trial.suggest_float("alpha", 0.1, 50.0, log=True),
            "iterations": trial.suggest_int("iterations", 5, 30),
        }
    else:
        values = {
            "regularization": trial.suggest_float("bpr_regularization", 1e-4, 1.0, log=True),
            "learning_rate": trial.suggest_float("learning_rate", 1e-3, 0.2, log=True),
            "iterations": trial.suggest_int("bpr_iterations", 20, 150),
        }
    return replace(base, algorithm=algorithm, factors=factors, half_life_days=half_life, **values)


def _as_trial(params: Params, algorithms: tuple[str, ...]) -> dict:
    """`params` as the search space's names, to enqueue it as a trial."""
    point: dict = {"algorithm": params.algorithm, "factors": params.factors}
    point["decay"] = params.half_life_days != math.inf
    if point["decay"]:
        point["half_life_days"] = min(max(params.half_life_days, HALF_LIVES[0]), HALF_LIVES[1])
    if params.algorithm == "als":
        point["regularization"] = params.regularization
        point["alpha"] = params.alpha
        point["iterations"] = params.iterations
    else:
        point["bpr_regularization"] = params.regularization
        point["learning_rate"] = params.learning_rate
        point["bpr_iterations"] = params.iterations
    return point if params.algorithm in algorithms else {}


def tune(
    validation: Validation,
    base: Params,
    trials: int,
    minutes: float | None = None,
    on_trial: Callable[[str], None] | None = None,
    algorithms: tuple[str, ...] = ("als", "bpr"),
) -> dict:
    """Search up to `trials` parameter sets (or `minutes`); returns the record stored in
    recodb.model.tuning, with the best as `best` (`Params.from_stored()` reads it back)."""
    import optuna

    report = on_trial or (lambda _: None)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    base = validation.resolve(base)
    rng = np.random.default_rng(base.seed)
    users = validation.users
    sample = (
        np.sort(rng.choice(users, PRUNE_SAMPLE, replace=False))
        if len(users) > PRUNE_SAMPLE
        else users
    )
    deadline = time.monotonic() + 60 * minutes if minutes else math.inf
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=base.seed, n_startup_trials=8, multivariate=True),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=0),
    )
    first = _as_trial(base, algorithms)
    if first:
        study.enqueue_trial(first)
    results: list[dict] = []
    tried: list[Params] = []

    def objective(trial) -> float:
        params = suggest(trial, base, algorithms)
        checkpoints = {max(1, int(f * params.iterations)) for f in CHECKPOINTS}
        checkpoints.discard(params.iterations)

        def on_iteration(iteration: int, user_f: np.ndarray, post_f: np.ndarray) -> None:
            if time.monotonic() > deadline:
                raise optuna.TrialPruned("out of time")
            if iteration in checkpoints:
                value = validation.rank(user_f, post_f, sample)[METRIC]
                trial.report(value, iteration)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"{METRIC} {value:.4f} at iteration {iteration}")

        started = time.perf_counter()
        entry = {"number": trial.number, "algorithm": params.algorithm}
        entry["params"] = params.model_params()
        try:
            metrics = validation.rank(*validation.fit(params, on_iteration))
        except optuna.TrialPruned as exc:
            entry |= {"state": "pruned", "reason": str(exc)}
            raise
        else:
            entry |= {"state": "complete", "metrics": metrics}
            tried.append(params)
            return metrics[METRIC]
        finally:
            entry["seconds"] = round(time.perf_counter() - started, 2)
            results.append(entry)
            complete = [r for r in results if r["state"] == "complete"]
            best = max((r["metrics"][METRIC] for r in complete), default=0.0)
            value = f"{METRIC} {entry['metrics'][METRIC]:.4f}" if "metrics" in entry else "pruned"
            report(
                f"trial {len(results)}/{trials}: {value} (best {best:.4f}) "
                + params.algorithm
                + " "
                + " ".join(f"{k}={_short(v)}" for k, v in entry["params"].items())
            )

    remaining = max(0.0, deadline - time.monotonic()) if minutes else None
    study.optimize(objective, n_trials=trials, timeout=remaining, catch=())
    done = [r for r in results if r["state"] == "complete"]
    complete = list(zip(done, tried, strict=True))
    if not complete:
        # Every trial pruned or out of time: the caller's parameters stand, unscored.
        best_params, best_metrics = base, {}
    else:
        best_entry, best_params = max(complete, key=lambda rp: rp[0]["metrics"][METRIC])
        best_metrics = best_entry["metrics"]
    best = best_params.model_params() | {"algorithm": best_params.algorithm}
    return {
        "metric": METRIC,
        "sampler": "optuna TPE",
        "protocol": validation.protocol,
        "split_at": validation.split_at,
        "users": len(validation.users),
        "trials": results,
        "best": best,
        "best_metrics": best_metrics,
    }


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return "none" if value is None else str(value)
