"""Does a final ALS fit that starts from the validation fit rank as well as a cold one?

    uv run python scripts/warm_fit_check.py [--iterations 2,4,6,10] [--users 1000]

Nested splits of the database's interactions under the active model's parameters: the
validation split (`user-latest`) is split again, the inner split's fit plays the validation
fit, and fits on the outer split's training part are scored on its held-out posts (NDCG@10 of
exact inner-product top 10, as `recodb train` validates): a cold fit of all the parameters'
iterations, warm fits of each given number of iterations starting from the inner fit, and a
cold fit with another seed for the noise between cold fits. "agree" is the share of each
scored user's top 50 that a fit has in common with the cold fit. Uses RECODB_HOME or
DATABASE_URL like the CLI; the figures behind recodb.training.fit.WARM_SHARE came from it.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import psycopg

from recodb import db
from recodb.training.fit import Params, fit_collaborative
from recodb.training.matrix import read_interactions, read_settings
from recodb.training.validation import Validation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", default="2,4,6,10", help="warm fits' iterations")
    parser.add_argument("--users", type=int, default=1000, help="users whose top 50 agree")
    args = parser.parse_args()
    from implicit.cpu.topk import topk

    with psycopg.connect(db.resolve().url, autocommit=True) as conn:
        settings = read_settings(conn)
        data = read_interactions(conn)
        row = conn.execute(
            "select algorithm, params from recodb.model where status = 'active'"
        ).fetchone()
    if row is None or row[0] != "als":
        raise SystemExit("needs an active ALS model (its parameters are the ones checked)")
    params = Params.from_stored(row[0], row[1])
    outer = Validation.build(data, settings, seed=params.seed)
    inner = outer and Validation.build(outer.train_data, settings, seed=params.seed)
    if inner is None:
        raise SystemExit("too little held-out data for nested splits")
    params = outer.resolve(params)
    start = inner.fit(params)
    matrix = outer.matrix(params.half_life_days)
    users = outer.users[: args.users]

    def top50(fit: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        ids, _ = topk(fit[1], fit[0][users], 50, filter_query_items=outer.seen[users])
        return ids

    def report(name: str, fit: tuple[np.ndarray, np.ndarray], seconds: float, cold) -> None:
        ndcg = outer.rank(*fit, k=10)["ndcg@10"]
        agree = np.mean([len(set(a) & set(b)) / 50 for a, b in zip(top50(fit), cold, strict=True)])
        print(f"{name:<28} {seconds:7.1f} s  ndcg@10 {ndcg:.5f}  agree {agree:.3f}", flush=True)

    started = time.perf_counter()
    cold = fit_collaborative(matrix, params)
    cold_top = top50(cold)
    report(f"cold, {params.iterations} iterations", cold, time.perf_counter() - started, cold_top)
    for n in (int(x) for x in args.iterations.split(",")):
        started = time.perf_counter()
        warm = fit_collaborative(matrix, replace(params, iterations=n), init=start)
        report(f"warm, {n} iterations", warm, time.perf_counter() - started, cold_top)
    started = time.perf_counter()
    other = fit_collaborative(matrix, replace(params, seed=params.seed + 1))
    report("cold, another seed", other, time.perf_counter() - started, cold_top)


if __name__ == "__main__":
    main()
