"""Score every parameter set of an exhaustive grid through `recodb evaluate --train --test`.

    uv run python scripts/grid_check.py TRAIN TEST [--format movielens|csv] [--out grid.json]
        [--jobs 1] [--users 1000] [--seed 42] [--tuned REPORT.json] [--limit N]

TRAIN and TEST are interaction logs in an import format (make them with
scripts/split_log.py, which holds out each user's latest posts as `recodb evaluate` does).
For each point of GRID (below: ALS and BPR over factors, regularisation, α or the learning
rate, iterations and the training half-life, including none, the dimensions `recodb train
--tune` searches) it runs exactly what `recodb evaluate --train TRAIN --test TEST` runs with
those parameters: a scratch database of the database in use (DATABASE_URL, or the embedded
server of RECODB_HOME) gets TRAIN, trains there with validation and a learned blend, serves
the TEST users through `recodb.recommend` and scores the baselines beside it. One line per
point says its served (recodb) and collaborative-only NDCG@10; the JSON (`--out`) gets every
point's metrics, intervals and blend as it finishes, so an interrupted run resumes where it
stopped. At the end: the best point by served NDCG@10, the best by collaborative-only, and,
with `--tuned` (the JSON that `recodb evaluate` wrote for the tuned model), its served
NDCG@10 as a fraction of the best.

`--jobs 2` runs two points at once (each in its own scratch database). Nothing is written to
the database in use beyond the scratch databases, which are dropped.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from recodb import db
from recodb.evaluation import evaluate
from recodb.training.fit import Params

METRIC = "ndcg@10"
# Every combination of the values per algorithm (half-life in days; inf: no decay). The
# tuner's ranges: factors 4-128, ALS λ 1e-3-100, α 0.1-50, iterations 5-30; BPR λ 1e-4-1,
# learning rate 1e-3-0.2, iterations 20-150; half-life 1-3650 days or none.
GRID: dict[str, dict[str, list]] = {
    "als": {
        "factors": [16, 64, 128],
        "regularization": [0.1, 10.0],
        "alpha": [0.3, 3.0],
        "iterations": [10, 30],
        "half_life_days": [math.inf, 60.0],
    },
    "bpr": {
        "factors": [16, 64],
        "regularization": [0.001, 0.01],
        "learning_rate": [0.01, 0.05],
        "iterations": [100],
        "half_life_days": [math.inf],
    },
}


def points(grid: dict[str, dict[str, list]], seed: int) -> list[Params]:
    out = []
    for algorithm, space in grid.items():
        names = list(space)
        for values in itertools.product(*(space[n] for n in names)):
            given = dict(zip(names, values, strict=True))
            out.append(Params(algorithm=algorithm, seed=seed, **given))
    return out


def key(params: Params) -> str:
    """A point's name in the JSON: its algorithm and parameters."""
    return json.dumps(params.model_params() | {"algorithm": params.algorithm}, sort_keys=True)


def run_point(params: Params, train: Path, test: Path, fmt: str, users: int, seed: int) -> dict:
    started = time.perf_counter()
    options = evaluate.Options(ks=(5, 10, 20), max_users=users, seed=seed, params=params)
    report = evaluate.evaluate_files(db.resolve(), train, test, fmt, options=options)
    return {
        "params": report.params,
        "metrics": report.metrics,
        "intervals": report.intervals,
        "blend": report.blend,
        "users": report.users,
        "seconds": round(time.perf_counter() - started, 1),
    }


def describe(params: dict) -> str:
    shown = {k: v for k, v in params.items() if k not in ("seed", "content_dims", "algorithm")}
    return params["algorithm"] + " " + " ".join(f"{k}={v:g}" if isinstance(v, float) else
                                                f"{k}={v}" for k, v in shown.items())  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train", type=Path)
    parser.add_argument("test", type=Path)
    parser.add_argument("--format", default="movielens")
    parser.add_argument("--out", type=Path, default=Path("grid.json"))
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--users", type=int, default=1000, help="test users scored at most")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--tuned", type=Path, help="recodb evaluate's JSON for the tuned model")
    parser.add_argument("--limit", type=int, help="only the first N points (a trial run)")
    args = parser.parse_args()

    todo = points(GRID, args.seed)[: args.limit]
    results: dict[str, dict] = {}
    if args.out.is_file():
        results = json.loads(args.out.read_text()).get("points", {})
    pending = [p for p in todo if key(p) not in results]
    print(f"{len(todo)} points, {len(todo) - len(pending)} already in {args.out}", flush=True)
    started = time.perf_counter()

    def save() -> None:
        ranked = sorted(results.values(), key=lambda r: -r["metrics"]["recodb"][METRIC])
        best_cf = max(results.values(), key=lambda r: r["metrics"]["collaborative only"][METRIC])
        grid = {
            algorithm: {k: [None if v == math.inf else v for v in vs] for k, vs in space.items()}
            for algorithm, space in GRID.items()
        }
        summary = {
            "grid": grid,
            "points": results,
            "best_served": ranked[0] if ranked else None,
            "best_collaborative_only": best_cf if results else None,
        }
        args.out.write_text(json.dumps(summary, indent=1))

    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = {
            pool.submit(run_point, p, args.train, args.test, args.format, args.users, args.seed): p
            for p in pending
        }
        for n, future in enumerate(as_completed(futures), len(todo) - len(pending) + 1):
            try:
                result = future.result()
            except Exception as exc:  # one point failing leaves the others (rerun resumes it)
                print(f"[{n}/{len(todo)}] failed: {exc!r} {key(futures[future])}", flush=True)
                continue
            results[key(futures[future])] = result
            save()
            m = result["metrics"]
            best = max(r["metrics"]["recodb"][METRIC] for r in results.values())
            print(
                f"[{n}/{len(todo)}] served {m['recodb'][METRIC]:.4f} collaborative only "
                f"{m['collaborative only'][METRIC]:.4f} (best served {best:.4f}) "
                f"{describe(result['params'])} ({result['seconds']:.0f} s, "
                f"{(time.perf_counter() - started) / 60:.1f} min)",
                flush=True,
            )
    if not results:
        return
    save()
    summary = json.loads(args.out.read_text())
    best, best_cf = summary["best_served"], summary["best_collaborative_only"]
    print(f"best served {METRIC}: {best['metrics']['recodb'][METRIC]:.4f} "
          f"{best['intervals']['recodb'][METRIC]} {describe(best['params'])}")  # fmt: skip
    print(
        f"best collaborative only {METRIC}: "
        f"{best_cf['metrics']['collaborative only'][METRIC]:.4f} {describe(best_cf['params'])}"
    )
    if args.tuned:
        tuned = json.loads(args.tuned.read_text())["metrics"]
        ratio = tuned["recodb"][METRIC] / best["metrics"]["recodb"][METRIC]
        print(
            f"tuned served {METRIC} {tuned['recodb'][METRIC]:.4f} = {ratio:.3f} × the grid's "
            f"best; tuned collaborative only {tuned['collaborative only'][METRIC]:.4f}"
        )


if __name__ == "__main__":
    main()
