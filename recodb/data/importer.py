"""Import real interaction logs: MovieLens files, or a CSV of (user, item, rating|type, time).

Source ids are kept in `users.external_id` / `posts.external_id`, and the UUIDs are derived
from them (uuid5 of a fixed namespace), so results join back to the source and a re-import
agrees with the first one (interactions too: an identical row is not added twice).

Ratings become interaction types (a 1–5 scale, as MovieLens):

    rating < 2.5         view     (seen, not liked)
    2.5 <= rating < 3.5  click
    3.5 <= rating < 4.5  like
    rating >= 4.5        share    (the strongest signal we have)

The file is parsed completely before anything is written, and written in one transaction: a
malformed line stops the import with its line number and nothing is loaded.
"""

from __future__ import annotations

import csv
import json
import math
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

import psycopg
from psycopg import sql

from recodb.data.dataset import INTERACTION_TYPES
from recodb.errors import RecodbError

NAMESPACE = uuid.UUID("6f1c3f0e-3c1a-5d2e-9a57-7265636f6462")  # fixed forever: ids depend on it
FORMATS = ("movielens", "csv")

USER_COLUMNS = ("user_id", "userid", "user")
ITEM_COLUMNS = ("item_id", "itemid", "movieid", "post_id", "postid", "item")
RATING_COLUMNS = ("rating",)
TYPE_COLUMNS = ("interaction_type", "type", "event")
TIME_COLUMNS = ("timestamp", "created_at", "time")
# Timestamps later than now plus this are refused: clock skew, not data (a row dated years
# ahead would count as brand new until then).
CLOCK_SKEW = timedelta(days=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ImportFileError(RecodbError):
    """A problem in the input file, located by line."""

    def __init__(self, path: Path, line: int | None, message: str):
        self.path, self.line, self.reason = path, line, message
        where = f"{path.name} line {line}" if line else path.name
        super().__init__(f"{where}: {message}")


def user_uuid(external_id: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, "user:" + external_id)


def post_uuid(external_id: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, "post:" + external_id)


def interaction_type_for_rating(rating: float) -> str:
    if rating < 2.5:
        return "view"
    if rating < 3.5:
        return "click"
    if rating < 4.5:
        return "like"
    return "share"


@dataclass
class ParsedLog:
    users: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    ratings: list[float | None] = field(default_factory=list)
    times: list[datetime] = field(default_factory=list)
    titles: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.users)


def parse_time(value: str) -> datetime:
    """Unix seconds or ISO 8601 (UTC unless it says otherwise); ValueError when neither."""
    value = value.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", value):
        return datetime.fromtimestamp(float(value), UTC)
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_rating(value: str) -> float:
    rating = float(value)
    if not math.isfinite(rating) or not 0 <= rating <= 5:
        raise ValueError(f"rating {value!r} is outside 0..5")
    return rating


def _csv_rows(path: Path, reader) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of a csv.reader; a CSV error (a field over csv's 131,072
    characters, a stray quote) names its line."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportFileError(path, reader.line_num, f"bad CSV ({exc})") from None
        yield reader.line_num, row


def _rows(
    path: Path, handle: TextIO, fmt: str
) -> tuple[Iterator[tuple[int, list[str]]], dict[str, int]]:
    """(line number, fields) pairs and the column positions, by format."""
    first = handle.readline()
    handle.seek(0)
    if fmt == "movielens":
        if "::" in first:  # ml-1m / ml-10m ratings.dat
            lines = ((n, line.rstrip("\r\n").split("::")) for n, line in enumerate(handle, 1))
            return lines, {"user": 0, "item": 1, "rating": 2, "time": 3}
        if first.lower().startswith("userid,"):  # ml-latest ratings.csv
            rows = _csv_rows(path, csv.reader(handle))
            next(rows)
            return rows, {
                "user": 0,
                "item": 1,
                "rating": 2,
                "time": 3,
            }
        # ml-100k u.data: whitespace (tab) separated, no header.
        lines = ((n, line.split()) for n, line in enumerate(handle, 1))
        return lines, {"user": 0, "item": 1, "rating": 2, "time": 3}

    rows = _csv_rows(path, csv.reader(handle))
    try:
        header = [h.strip().lower() for h in next(rows)[1]]
    except StopIteration:
        raise ImportFileError(path, None, "the file is empty") from None

    def find(names: tuple[str, ...], required: bool) -> int | None:
        for name in names:
            if name in header:
                return header.index(name)
        if required:
            raise ImportFileError(
                path, 1, f"the header needs a column named one of {', '.join(names)}"
            )
        return None

    columns = {"user": find(USER_COLUMNS, True), "item": find(ITEM_COLUMNS, True)}
    rating, kind = find(RATING_COLUMNS, False), find(TYPE_COLUMNS, False)
    if rating is None and kind is None:
        raise ImportFileError(path, 1, "the header needs a rating or an interaction_type column")
    if rating is not None:
        columns["rating"] = rating
    if kind is not None:
        columns["type"] = kind
    columns["time"] = find(TIME_COLUMNS, True)
    return rows, columns


def parse(path: Path, fmt: str) -> ParsedLog:
    """Read and validate the whole file; ImportFileError names the first bad line."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if path.is_dir():
        raise ImportFileError(path, None, "is a folder, not a file")
    if not path.exists():
        raise ImportFileError(path, None, "no such file")
    if not path.is_file():
        raise ImportFileError(path, None, "is not a regular file")
    log = ParsedLog()
    # utf-8-sig: a byte-order mark (Excel writes one) is not part of the first column's name.
    with path.open(newline="", encoding="utf-8-sig") as handle:
        _parse_into(log, path, handle, fmt)
    if not log:
        raise ImportFileError(path, None, "no interactions found")
    if fmt == "movielens":
        log.titles = _movielens_titles(path)
    return log


def _parse_into(log: ParsedLog, path: Path, handle: TextIO, fmt: str) -> None:
    latest = datetime.now(UTC) + CLOCK_SKEW
    try:
        rows, cols = _rows(path, handle, fmt)
        width = max(cols.values()) + 1
        for line, fields in rows:
            if not fields or all(not f.strip() for f in fields):
                continue  # blank lines (a trailing newline) carry nothing
            if len(fields) < width:
                raise ImportFileError(
                    path, line, f"expected at least {width} fields, found {len(fields)}"
                )
            user, item = fields[cols["user"]].strip(), fields[cols["item"]].strip()
            if not user or not item:
                raise ImportFileError(path, line, "empty user or item id")
            rating = None
            try:
                if "rating" in cols and fields[cols["rating"]].strip():
                    rating = _parse_rating(fields[cols["rating"]])
            except ValueError as exc:
                raise ImportFileError(path, line, f"bad rating: {exc}") from None
            kind = fields[cols["type"]].strip().lower() if "type" in cols else ""
            if kind:
                if kind not in INTERACTION_TYPES:
                    raise ImportFileError(
                        path,
                        line,
                        f"interaction_type {kind!r} is not one of {', '.join(INTERACTION_TYPES)}",
                    )
            elif rating is not None:
                kind = interaction_type_for_rating(rating)
            else:
                raise ImportFileError(path, line, "neither a rating nor an interaction_type")
            try:
                when = parse_time(fields[cols["time"]])
            except (ValueError, OverflowError, OSError):
                raise ImportFileError(
                    path, line, f"bad timestamp {fields[cols['time']]!r} (unix seconds or ISO 8601)"
                ) from None
            if when > latest:
                raise ImportFileError(
                    path,
                    line,
                    f"timestamp {fields[cols['time']].strip()[:40]!r} is {when:%Y-%m-%d %H:%M}, "
                    f"more than {CLOCK_SKEW.days} day in the future",
                )
            if when < EPOCH:
                raise ImportFileError(
                    path, line, f"timestamp {fields[cols['time']].strip()[:40]!r} is before 1970"
                )
            log.users.append(user)
            log.items.append(item)
            log.types.append(kind)
            log.ratings.append(rating)
            log.times.append(when)
    except UnicodeDecodeError as exc:
        raise ImportFileError(path, None, f"not UTF-8 text ({exc.reason})") from None


def _movielens_titles(ratings: Path) -> dict[str, str]:
    """Item titles (and genres) from the file MovieLens ships beside the ratings, if present."""
    folder = ratings.parent
    if (folder / "movies.csv").is_file():  # ml-latest: movieId,title,genres
        path = folder / "movies.csv"
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = _csv_rows(path, csv.reader(f))
            titles = {}
            try:
                next(rows, None)
                for _, r in rows:
                    if len(r) >= 3:
                        titles[r[0]] = f"{r[1]} ({r[2].replace('|', ', ')})"
            except UnicodeDecodeError as exc:
                # (decoding runs ahead of the csv reader, so there is no exact line to name)
                raise ImportFileError(path, None, f"not UTF-8 text ({exc.reason})") from None
            return titles
    if (folder / "movies.dat").is_file():  # ml-1m: id::title::genres
        with (folder / "movies.dat").open(encoding="latin-1") as f:
            rows = (line.rstrip("\n").split("::") for line in f)
            return {r[0]: f"{r[1]} ({r[2].replace('|', ', ')})" for r in rows if len(r) >= 3}
    if (folder / "u.item").is_file():  # ml-100k: id|title|date|video date|url|19 genre flags
        genres = []
        if (folder / "u.genre").is_file():
            with (folder / "u.genre").open(encoding="latin-1") as f:
                genres = [line.split("|")[0] for line in f if "|" in line]
        titles = {}
        with (folder / "u.item").open(encoding="latin-1") as f:
            for line in f:
                r = line.rstrip("\n").split("|")
                if len(r) < 5:
                    continue
                flags = [g for g, on in zip(genres, r[5:], strict=False) if on == "1"]
                titles[r[0]] = f"{r[1]} ({', '.join(flags)})" if flags else r[1]
        return titles
    return {}


def write(log: ParsedLog, path: Path, fmt: str) -> None:
    """Write `log` so that `parse(path, fmt)` reads it back: movielens as u.data (tab-separated
    user, item, rating, Unix seconds; every row needs a rating), csv with a header of user_id,
    item_id, rating, interaction_type and ISO 8601 timestamp."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    with path.open("w", newline="", encoding="utf-8") as f:
        if fmt == "movielens":
            for user, item, rating, when in zip(
                log.users, log.items, log.ratings, log.times, strict=True
            ):
                if rating is None:
                    raise ValueError(f"movielens needs a rating on every row ({user}, {item})")
                seconds = (when - EPOCH).total_seconds()
                stamp = str(int(seconds)) if seconds == int(seconds) else repr(seconds)
                f.write(f"{user}\t{item}\t{rating:g}\t{stamp}\n")
            return
        out = csv.writer(f)
        out.writerow(["user_id", "item_id", "rating", "interaction_type", "timestamp"])
        for row in zip(log.users, log.items, log.ratings, log.types, log.times, strict=True):
            user, item, rating, kind, when = row
            out.writerow([user, item, "" if rating is None else f"{rating:g}", kind,
                          when.isoformat()])  # fmt: skip


def load(
    conn: psycopg.Connection,
    log: ParsedLog,
    source: str,
    on_rows: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write the parsed log in one transaction; returns rows added per table."""
    tick = on_rows or (lambda _: None)
    with conn.transaction():
        conn.execute(
            """
            create temp table import_stage (
                id uuid, user_id uuid, user_ext text, post_id uuid, post_ext text,
                interaction_type text, metadata jsonb, created_at timestamptz
            ) on commit drop"""
        )
        with conn.cursor().copy(
            "copy import_stage (id, user_id, user_ext, post_id, post_ext, interaction_type,"
            " metadata, created_at) from stdin"
        ) as copy:
            for i in range(len(log)):
                user, item, kind = log.users[i], log.items[i], log.types[i]
                when = log.times[i]
                key = f"{user}\x1f{item}\x1f{kind}\x1f{when.isoformat()}"
                meta = {"source": source}
                if log.ratings[i] is not None:
                    meta["rating"] = log.ratings[i]
                copy.write_row(
                    (
                        uuid.uuid5(NAMESPACE, "interaction:" + key),
                        user_uuid(user),
                        user,
                        post_uuid(item),
                        item,
                        kind,
                        json.dumps(meta),
                        when,
                    )
                )
                if i % 100_000 == 99_999:
                    tick(100_000)
            tick(len(log) % 100_000)
        conn.execute("analyze import_stage")
        users = conn.execute(
            """
            insert into users (id, username, external_id, created_at)
            select user_id, 'user ' || user_ext, user_ext, min(created_at)
            from import_stage group by user_id, user_ext
            on conflict do nothing"""
        ).rowcount
        with conn.cursor() as cur:
            cur.execute("create temp table import_title (ext text, title text) on commit drop")
            if log.titles:
                with cur.copy("copy import_title (ext, title) from stdin") as copy:
                    for ext, title in log.titles.items():
                        copy.write_row((ext, title))
        posts = conn.execute(
            """
            insert into posts (id, author_id, content, external_id, created_at)
            select s.post_id, null, t.title, s.post_ext, min(s.created_at)
            from import_stage s left join import_title t on t.ext = s.post_ext
            group by s.post_id, s.post_ext, t.title
            on conflict do nothing"""
        ).rowcount
        # Join through external_id: a user or post that existed before keeps its own id.
        interactions = conn.execute(
            """
            insert into user_interaction (id, user_id, post_id, interaction_type, metadata,
                                          created_at)
            select s.id, u.id, p.id, s.interaction_type, s.metadata, s.created_at
            from import_stage s
            join users u on u.external_id = s.user_ext
            join posts p on p.external_id = s.post_ext
            on conflict do nothing"""
        ).rowcount
        for table in ("users", "posts", "user_interaction"):
            conn.execute(sql.SQL("analyze {}").format(sql.Identifier(table)))
    return {"users": users, "posts": posts, "user_interaction": interactions}
