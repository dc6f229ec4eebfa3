"""`recodb evaluate --train --test`: a split given as two files, scored through the real
serving path with the parameters of the active model (what `recodb train --tune` found)."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import numpy as np
import psycopg
from conftest import _drop_database
from psycopg.conninfo import conninfo_to_dict

from recodb import db
from recodb.data import importer
from recodb.evaluation import evaluate
from recodb.training.fit import Params
from recodb.training.train import train

GENRES = ["alpine glacier summit", "harbour sailing regatta", "bread oven crust"]


def _files(folder: Path) -> tuple[Path, Path]:
    """A MovieLens-style log from 1997 (three tastes, ratings 1-5, titles in u.item), split
    into train and test files by each user's latest posts."""
    rng = np.random.default_rng(7)
    start = importer.EPOCH + timedelta(days=365 * 27)
    log = importer.ParsedLog()
    for u in range(60):
        taste = u % 3
        for i in rng.choice(30, 14, replace=False):
            item = taste * 30 + int(i)
            rating = float(rng.integers(3, 6) if i < 20 else rng.integers(1, 3))
            log.users.append(str(u))
            log.items.append(str(item))
            log.ratings.append(rating)
            log.types.append(importer.interaction_type_for_rating(rating))
            log.times.append(start + timedelta(hours=int(rng.integers(0, 24 * 200))))
    (folder / "u.item").write_text(
        "".join(f"{i}|Film {i} {GENRES[i // 30]}|||\n" for i in range(90))
    )
    whole = folder / "u.data"
    importer.write(log, whole, "movielens")
    train, test = evaluate.split_log(importer.parse(whole, "movielens"))
    paths = folder / "train.data", folder / "test.data"
    importer.write(train, paths[0], "movielens")
    importer.write(test, paths[1], "movielens")
    return paths


def test_files_are_scored_with_the_active_models_parameters(db_url: str, tmp_path: Path) -> None:
    train_path, test_path = _files(tmp_path)
    database = db.Database(db_url, False)
    options = evaluate.Options(ks=(10,))

    # No model yet: the defaults.
    report = evaluate.evaluate_files(database, train_path, test_path, "movielens", options=options)
    assert report.params == Params().model_params() | {"algorithm": "als"}
    assert report.users > 40 and report.metrics["recodb"]["ndcg@10"] > 0
    assert report.protocol == "files"

    # A (tuned) model is active: the scratch training uses its parameters, not the defaults.
    with psycopg.connect(db_url, autocommit=True) as conn:
        importer.load(conn, importer.parse(train_path, "movielens"), source="movielens")
        tuned = Params(factors=6, regularization=3.0, alpha=0.5, iterations=7, content_dims=4,
                       seed=5, half_life_days=math.inf)  # fmt: skip
        train(conn, tuned)
    report = evaluate.evaluate_files(database, train_path, test_path, "movielens", options=options)
    assert report.params == tuned.model_params() | {"algorithm": "als"}
    assert report.params["half_life_days"] is None  # no decay, as trained
    assert report.blend is not None

    # Parameters given explicitly still win.
    given = Params(algorithm="bpr", factors=5, iterations=20, content_dims=4, seed=5)
    options = evaluate.Options(ks=(10,), params=given)
    report = evaluate.evaluate_files(database, train_path, test_path, "movielens", options=options)
    assert report.params["algorithm"] == "bpr" and report.params["factors"] == 5


def test_the_scratch_database_serves_with_this_databases_settings(
    db_url: str, tmp_path: Path
) -> None:
    """What is scored is what this database would serve: its settings (candidates per source,
    here) go to the scratch database, not the migrations' defaults."""
    train_path, test_path = _files(tmp_path)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("update recodb.setting set value = '12' where key = 'candidates_per_source'")
    options = evaluate.Options(ks=(10,), keep_scratch=True, learn_blend=False)
    report = evaluate.evaluate_files(
        db.Database(db_url, False), train_path, test_path, "movielens", options=options
    )
    assert report.scratch_url is not None
    try:
        with psycopg.connect(report.scratch_url) as scratch:
            assert (
                scratch.execute(
                    "select value::integer from recodb.setting where key = 'candidates_per_source'"
                ).fetchone()[0]
                == 12
            )
    finally:
        _drop_database(db_url, conninfo_to_dict(report.scratch_url)["dbname"])
