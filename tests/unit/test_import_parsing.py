"""Parsing import files, without a database: bad lines are reported with their number."""

from __future__ import annotations

from pathlib import Path

import pytest

from recodb.data import importer


@pytest.mark.parametrize(
    ("name", "text", "fmt", "message"),
    [
        ("u.data", "1\t2\t3\t881250949\n1\t3\tabc\t881250949\n", "movielens", "line 2: bad rating"),
        ("u.data", "1\t2\t3\t881250949\n1\t3\n", "movielens", "line 2: expected at least 4 fields"),
        ("u.data", "1\t2\t9\t881250949\n", "movielens", "line 1: bad rating.*outside 0..5"),
        ("u.data", "1\t2\t3\tyesterday\n", "movielens", "line 1: bad timestamp 'yesterday'"),
        ("e.csv", "user_id,item_id,timestamp\n", "csv", "line 1: .*rating or an interaction_type"),
        ("e.csv", "user,rating,timestamp\n", "csv", "line 1: .*item_id"),
        (
            "e.csv",
            "user_id,item_id,interaction_type,timestamp\na,b,view,1\na,b,poke,2\n",
            "csv",
            "line 3: interaction_type 'poke' is not one of",
        ),
        ("e.csv", "user_id,item_id,rating,timestamp\n,b,3,1\n", "csv", "line 2: empty user"),
        ("u.data", "\n\n", "movielens", "no interactions found"),
    ],
)
def test_bad_lines_stop_the_import(
    tmp_path: Path, name: str, text: str, fmt: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(importer.ImportFileError, match=message):
        importer.parse(path, fmt)


@pytest.mark.parametrize("fmt", importer.FORMATS)
def test_a_written_log_reads_back(tmp_path: Path, fmt: str) -> None:
    source = tmp_path / "u.data"
    source.write_text("196\t242\t3\t881250949\n22\t377\t1.5\t878887116\n196\t51\t5\t881250950\n")
    log = importer.parse(source, "movielens")
    out = tmp_path / ("copy.data" if fmt == "movielens" else "copy.csv")
    importer.write(log, out, fmt)
    back = importer.parse(out, fmt)
    for name in ("users", "items", "types", "ratings", "times"):
        assert getattr(back, name) == getattr(log, name), name


def test_movielens_needs_ratings_to_write(tmp_path: Path) -> None:
    log = importer.ParsedLog(["u"], ["i"], ["like"], [None], [importer.EPOCH])
    with pytest.raises(ValueError, match="needs a rating"):
        importer.write(log, tmp_path / "u.data", "movielens")
    importer.write(log, tmp_path / "e.csv", "csv")
    assert importer.parse(tmp_path / "e.csv", "csv").types == ["like"]
