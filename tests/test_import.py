"""Importing MovieLens and CSV logs: counts, deterministic ids, re-imports, bad lines."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from helpers import count

from recodb.data import importer

U_DATA = "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n244\t51\t2\t880606923\n196\t51\t5\t881250950\n22\t242\t4\t878887117\n"  # noqa: E501
U_ITEM = (
    "242|Kolya (1996)|24-Jan-1997||http://x|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
    "302|L.A. Confidential (1997)|01-Jan-1997||http://x|0|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0|0|0\n"
)
U_GENRE = "unknown|0\nAction|1\nAdventure|2\nAnimation|3\nChildren's|4\nComedy|5\nCrime|6\n"


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def _import(url: str, path: Path, fmt: str) -> dict[str, int]:
    log = importer.parse(path, fmt)
    with psycopg.connect(url) as conn:
        return importer.load(conn, log, source=fmt)


def test_movielens_u_data(db_url: str, tmp_path: Path) -> None:
    path = _write(tmp_path, "u.data", U_DATA)
    _write(tmp_path, "u.item", U_ITEM)
    _write(tmp_path, "u.genre", U_GENRE)
    assert _import(db_url, path, "movielens") == {
        "users": 4,
        "posts": 4,
        "user_interaction": 6,
    }
    with psycopg.connect(db_url) as conn:
        # Ids derive from the source ids, so results join back to the file.
        user_id = conn.execute("select id from users where external_id = '196'").fetchone()[0]
        assert user_id == importer.user_uuid("196")
        rows = conn.execute(
            """select u.external_id, p.external_id, i.interaction_type, i.metadata ->> 'rating',
                      extract(epoch from i.created_at)::bigint
               from user_interaction i join users u on u.id = i.user_id
               join posts p on p.id = i.post_id order by 1, 2"""
        ).fetchall()
        assert rows[0] == ("186", "302", "click", "3.0", 891717742)
        assert ("196", "51", "share", "5.0", 881250950) in rows
        assert ("22", "377", "view", "1.0", 878887116) in rows
        assert ("22", "242", "like", "4.0", 878887117) in rows
        titles = dict(conn.execute("select external_id, content from posts").fetchall())
        assert titles["242"] == "Kolya (1996) (Comedy)"
        assert titles["51"] is None  # not in u.item
        # A post "appears" at its first interaction.
        created = conn.execute(
            "select extract(epoch from created_at)::bigint from posts where external_id = '242'"
        ).fetchone()[0]
        assert created == 878887117


def test_reimport_adds_nothing(db_url: str, tmp_path: Path) -> None:
    path = _write(tmp_path, "u.data", U_DATA)
    _import(db_url, path, "movielens")
    assert _import(db_url, path, "movielens") == {"users": 0, "posts": 0, "user_interaction": 0}
    with psycopg.connect(db_url) as conn:
        assert count(conn, "user_interaction") == 6


def test_movielens_ratings_csv_and_dat(db_url: str, tmp_path: Path) -> None:
    csv_path = _write(
        tmp_path,
        "ratings.csv",
        "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,0.5,964981247\n",
    )
    assert _import(db_url, csv_path, "movielens")["user_interaction"] == 2
    dat_path = _write(tmp_path, "ratings.dat", "7::1193::5::978300760\n7::661::3::978302109\n")
    assert _import(db_url, dat_path, "movielens") == {
        "users": 1,
        "posts": 2,
        "user_interaction": 2,
    }
    with psycopg.connect(db_url) as conn:
        types = dict(
            conn.execute(
                "select p.external_id, i.interaction_type from user_interaction i"
                " join posts p on p.id = i.post_id"
            ).fetchall()
        )
        assert types == {"1": "like", "3": "view", "1193": "share", "661": "click"}


def test_csv_with_interaction_types_and_iso_times(db_url: str, tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "events.csv",
        "user_id,item_id,interaction_type,timestamp\n"
        "alice,p1,view,2026-11-20T10:00:00Z\n"
        "alice,p1,like,2026-11-20T10:00:05+00:00\n"
        "bob,p2,comment,2026-11-21 08:30:00\n",
    )
    assert _import(db_url, path, "csv") == {"users": 2, "posts": 2, "user_interaction": 3}
    with psycopg.connect(db_url) as conn:
        assert conn.execute(
            "select i.interaction_type, i.created_at from user_interaction i join users u"
            " on u.id = i.user_id where u.external_id = 'bob'"
        ).fetchone() == ("comment", datetime(2026, 11, 21, 8, 30, tzinfo=UTC))


def test_a_bad_line_loads_nothing(db_url: str, tmp_path: Path) -> None:
    lines = [f"{u}\t{i}\t4\t88125094{i % 10}" for u in range(20) for i in range(30)]
    lines[450] = "5\t7\tfour\t881250949"
    path = _write(tmp_path, "u.data", "\n".join(lines) + "\n")
    with pytest.raises(importer.ImportFileError, match=r"u\.data line 451"):
        _import(db_url, path, "movielens")
    with psycopg.connect(db_url) as conn:
        assert count(conn, "users") == 0
        assert count(conn, "user_interaction") == 0
