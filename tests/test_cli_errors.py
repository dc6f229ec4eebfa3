"""Bad input to the CLI: exit code 2 and one line on stderr naming the file, line or flag,
never a traceback (issue 11, defect 8). Each case runs `python -m recodb.cli` as a
subprocess, as an operator would."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from recodb.data.generate import generate

HEADER = "user_id,item_id,rating,timestamp\n"


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "recodb.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _env(db_url: str, home: Path) -> dict[str, str]:
    # Never the project's embedded server: a test database, and a home of our own.
    return {**os.environ, "DATABASE_URL": db_url, "RECODB_HOME": str(home), "COLUMNS": "80"}


def _crafted_datasets(folder: Path) -> dict[str, tuple[Path, str]]:
    """name: (file, what the message must name) for .npz files that must not load."""
    good = folder / "good.npz"
    generate(20, 30, 200, seed=1, topics=3, days=2).save(good)
    with np.load(good) as npz:
        arrays = {name: npz[name] for name in npz.files}

    def variant(name: str, change) -> Path:
        changed = dict(arrays)
        change(changed)
        path = folder / f"{name}.npz"
        with path.open("wb") as f:
            np.savez(f, **changed)
        return path

    def out_of_range(a):
        a["interaction_post"] = a["interaction_post"].copy()
        a["interaction_post"][0] = len(a["post_id"]) + 5

    def bad_category(a):
        a["interaction_type"] = a["interaction_type"].copy()
        a["interaction_type"][0] = 9

    def short(a):
        a["post_quality"] = a["post_quality"][:-1]

    def missing(a):
        del a["interaction_type"]

    def objects(a):  # an object array needs pickle to load, which is refused
        a["post_quality"] = np.array([{"x": 1}] * len(a["post_quality"]), dtype=object)

    zero = folder / "zero.npz"
    zero.write_bytes(b"")
    text = folder / "notes.npz"
    text.write_text("this is not a dataset\n")
    pickled = folder / "objects.npz"
    changed = dict(arrays)
    objects(changed)
    with pickled.open("wb") as f:
        np.savez(f, **changed)
    return {
        "index out of range": (variant("range", out_of_range), "interaction_post"),
        "bad category code": (variant("category", bad_category), "interaction_type"),
        "short array": (variant("short", short), "post_quality"),
        "missing key": (variant("missing", missing), "interaction_type"),
        "zero bytes": (zero, "zero.npz"),
        "not an npz": (text, "notes.npz"),
        "object array": (pickled, "objects.npz"),
    }


def test_bad_input_gives_one_line_and_exit_2(db_url: str, tmp_path: Path) -> None:
    env = _env(db_url, tmp_path / "home")
    data = tmp_path / "data"
    data.mkdir()
    cases: list[tuple[str, list[str], str]] = []  # (what, arguments, text the line must hold)

    huge = data / "huge.csv"
    huge.write_text(HEADER + "u1,i1,4,1700000000\n" + "u2,i2,4," + "9" * 140_000 + "\n")
    cases.append(("CSV field over 131,072 characters", ["import", str(huge), "-f", "csv"],
                  "huge.csv line 3"))  # fmt: skip

    ml = data / "ml-latest"
    ml.mkdir()
    (ml / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,10,4.0,1700000000\n")
    (ml / "movies.csv").write_bytes(b"movieId,title,genres\n10,Caf\xe9 \xff\xfe,Drama\n")
    ratings = str(ml / "ratings.csv")
    cases.append(("sidecar titles file with bad UTF-8", ["import", ratings], "movies.csv"))

    for what, (path, named) in _crafted_datasets(data).items():
        cases.append((f"crafted .npz: {what}", ["seed", "--input", str(path)], named))
    cases.append(("--input is a folder", ["seed", "--input", str(data)], "is a folder"))
    cases.append(("--input is missing", ["seed", "--input", str(data / "nope.npz")], "nope.npz"))

    cases.append(("version beyond int4", ["models", "activate", "99999999999"], "VERSION"))
    cases.append(("generate into a missing folder",
                  ["generate", "-o", str(data / "no" / "such" / "x.npz"), "--users", "10",
                   "--posts", "10", "--interactions", "10"], "does not exist"))  # fmt: skip
    cases.append(("generate onto a folder",
                  ["generate", "-o", str(data), "--users", "10", "--posts", "10",
                   "--interactions", "10"], "is a folder"))  # fmt: skip

    folder = data / "logs"
    folder.mkdir()
    cases.append(("a folder given as the file", ["import", str(folder), "-f", "csv"],
                  "logs: is a folder"))  # fmt: skip

    bom_bad = data / "bom_bad.csv"
    bom_bad.write_bytes(
        ("\ufeff" + HEADER + "u1,i1,4,1700000000\nu1,i2,nine,1700000000\n").encode()
    )
    cases.append(("byte-order mark, then a bad rating", ["import", str(bom_bad), "-f", "csv"],
                  "bom_bad.csv line 3"))  # fmt: skip

    future = data / "future.csv"
    future.write_text(HEADER + "u1,i1,4,1700000000\nu2,i1,4,2100-01-01T00:00:00\n")
    cases.append(("timestamp in 2100", ["import", str(future), "-f", "csv"], "future.csv line 3"))
    past = data / "past.csv"
    past.write_text(HEADER + "u1,i1,4,-86400\n")
    cases.append(("timestamp before 1970", ["import", str(past), "-f", "csv"], "past.csv line 2"))
    ml_future = data / "u.data"
    ml_future.write_text("1\t10\t4\t881250949\n2\t10\t5\t99999999999\n")
    cases.append(("u.data timestamp in ms", ["import", str(ml_future)], "u.data line 2"))

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda case: _cli(case[1], env), cases))

    problems = []
    for (what, args, named), result in zip(cases, results, strict=True):
        lines = result.stderr.strip().splitlines()
        if (
            result.returncode != 2
            or "Traceback" in result.stderr + result.stdout
            or len(lines) != 1
            or named not in lines[0]
        ):
            problems.append(
                f"{what} ({' '.join(args)[:80]}): exit {result.returncode}, "
                f"stderr {result.stderr[-600:]!r}"
            )
    if os.environ.get("RECODB_SHOW_CLI_ERRORS"):
        for (what, _, _), result in zip(cases, results, strict=True):
            print(f"{what}: {result.stderr.strip()}")
    assert not problems, "\n".join(problems)

    # Nothing above wrote anything; a byte-order mark alone is no error.
    bom = data / "bom.csv"
    bom.write_bytes(("\ufeff" + HEADER + "u1,i1,4,1700000000\nu2,i1,5,1700000100\n").encode())
    result = _cli(["import", str(bom), "-f", "csv"], env)
    assert result.returncode == 0, result.stderr
    assert "read 2 lines" in result.stdout


@pytest.mark.parametrize("show", [False, True])
def test_db_url_hides_the_password(tmp_path: Path, show: bool) -> None:
    url = "postgresql://app:s3cret-pw@db.example:5432/feed"
    env = {**os.environ, "DATABASE_URL": url, "RECODB_HOME": str(tmp_path)}
    result = _cli(["db", "url", *(["--show-password"] if show else [])], env)
    assert result.returncode == 0, result.stderr
    assert ("s3cret-pw" in result.stdout) is show
    assert "db.example" in result.stdout
