"""The binary COPY encoder, decoded by an independent reader written from the format specs.

The reader follows PostgreSQL's "Binary Format" of COPY (header: signature, int32 flags, int32
extension length; per row an int16 field count, then per field an int32 length, -1 for NULL,
and the bytes; an int16 -1 trailer), the types' send functions (uuid: 16 bytes, timestamptz:
int64 microseconds since 2000-01-01 UTC, int2/4/8, float4/8, one-dimensional arrays) and
pgvector's `vector_send` (int16 dimension, int16 unused, float4 values). The real round trip
through PostgreSQL is covered by the database tests (seed, train); these run in milliseconds.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest

from recodb import binary_copy as bc

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
Y2K_US = 946_684_800 * 1_000_000  # 2000-01-01 UTC in Unix microseconds
FLOAT4_OID = 700
UUID_OID = 2950


class ByteSink:
    """Stands in for `conn.cursor().copy(statement)` as a byte sink (and a byte source for
    copy_out), not as a database mock: nothing here interprets SQL or checks types. It keeps
    the statement text and every buffer written, in order."""

    def __init__(self, chunks: list[bytes] | None = None) -> None:
        self.statements: list[str] = []
        self.writes: list[bytes] = []
        self.chunks = chunks or []

    def cursor(self) -> ByteSink:
        return self

    @contextmanager
    def copy(self, statement) -> Iterator[ByteSink]:
        self.statements.append(statement.as_string(None))
        yield self

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.chunks)

    @property
    def data(self) -> bytes:
        return b"".join(self.writes)


def read_copy(buf: bytes) -> list[tuple[bytes | None, ...]]:
    """The rows of a binary COPY stream, each field's bytes or None for NULL."""
    assert buf[:11] == SIGNATURE
    flags, extension = struct.unpack_from(">ii", buf, 11)
    assert flags == 0  # no OIDs, no unknown critical flags
    pos = 19 + extension
    rows = []
    while True:
        (nfields,) = struct.unpack_from(">h", buf, pos)
        pos += 2
        if nfields == -1:
            break
        row: list[bytes | None] = []
        for _ in range(nfields):
            (length,) = struct.unpack_from(">i", buf, pos)
            pos += 4
            if length == -1:
                row.append(None)
            else:
                row.append(buf[pos : pos + length])
                pos += length
        rows.append(tuple(row))
    assert pos == len(buf), "bytes after the trailer"
    return rows


def _fixed(fmt: str, data: bytes):
    assert len(data) == struct.calcsize(fmt)
    return struct.unpack(fmt, data)[0]


def decode_timestamp(data: bytes) -> int:
    return _fixed(">q", data) + Y2K_US


def decode_int(size: int):
    return lambda data: _fixed({2: ">h", 4: ">i", 8: ">q"}[size], data)


def decode_float(size: int):
    return lambda data: _fixed({4: ">f", 8: ">d"}[size], data)


def _decode_array(data: bytes, oid: int, size: int) -> list[bytes]:
    """A one-dimensional array without nulls: each element's bytes."""
    ndim, has_null, element, length, lower = struct.unpack_from(">5i", data)
    assert (ndim, has_null, element, lower) == (1, 0, oid, 1)
    assert len(data) == 20 + (4 + size) * length
    values = []
    for i in range(length):
        at = 20 + (4 + size) * i
        assert struct.unpack_from(">i", data, at) == (size,)
        values.append(data[at + 4 : at + 4 + size])
    return values


def decode_real_array(data: bytes) -> list[float]:
    return [struct.unpack(">f", v)[0] for v in _decode_array(data, FLOAT4_OID, 4)]


def decode_uuid_array(data: bytes) -> list[bytes]:
    return _decode_array(data, UUID_OID, 16)


def decode_vector(data: bytes) -> list[float]:
    dim, unused = struct.unpack_from(">hh", data)
    assert unused == 0 and len(data) == 4 + 4 * dim
    return list(struct.unpack_from(f">{dim}f", data, 4))


def decode_uuid(data: bytes) -> bytes:
    assert len(data) == 16
    return data


def decode_text(data: bytes) -> str:
    return data.decode()


def decoded(rows: list[tuple], decoders: list) -> list[list]:
    return [
        [None if field is None else fn(field) for field, fn in zip(row, decoders, strict=True)]
        for row in rows
    ]


@pytest.fixture(params=[3, bc.CHUNK_ROWS], ids=["chunks of 3", "one chunk"])
def chunk_rows(request, monkeypatch) -> int:
    monkeypatch.setattr(bc, "CHUNK_ROWS", request.param)
    return request.param


def _chunks(n: int, size: int) -> list[int]:
    return [min(size, n - start) for start in range(0, n, size)]


N = 10


def test_every_fixed_width_type(chunk_rows: int) -> None:
    rng = np.random.default_rng(1)
    uuids = rng.integers(0, 256, (N, 16), dtype=np.uint8)
    # 1970, before and after 2000, and far ahead: the epoch shift must be exact.
    edges = [0, Y2K_US - 1, Y2K_US, Y2K_US + 1, 1_795_000_000_123_456]
    stamps = np.array([*edges, *rng.integers(0, 2 * 10**15, N - 5).tolist()], dtype=np.int64)
    int2 = np.array([-(2**15), 2**15 - 1, 0, -1, 1, 7, 8, 9, 10, 11], dtype=np.int16)
    int4 = np.array([-(2**31), 2**31 - 1, *range(N - 2)], dtype=np.int32)
    int8 = np.array([-(2**63), 2**63 - 1, *range(N - 2)], dtype=np.int64)
    float4 = np.array([np.inf, -np.inf, -0.0, 1.5e38, *rng.normal(size=N - 4)], dtype=np.float32)
    float8 = np.array([np.inf, 1e-300, *rng.normal(size=N - 2)])
    arrays = rng.normal(size=(N, 3))
    uuid_arrays = rng.integers(0, 256, size=(N, 4, 16), dtype=np.uint8)
    vectors = rng.normal(size=(N, 5))
    columns = {
        "id": bc.Uuid(uuids),
        "at": bc.Timestamp(stamps),
        "small": bc.Int(int2, size=2),
        "regular": bc.Int(int4),
        "big": bc.Int(int8, size=8),
        "real": bc.Float(float4, size=4),
        "double": bc.Float(float8),
        "arr": bc.RealArray(arrays),
        "ids": bc.UuidArray(uuid_arrays),
        "vec": bc.Vector(vectors),
        "nothing": bc.Null(),
    }
    sink, progress = ByteSink(), []
    assert bc.copy_arrays(sink, "recodb.t", columns, on_rows=progress.append) == N
    assert sink.statements == [
        'copy "recodb"."t" ("id", "at", "small", "regular", "big", "real", "double", "arr",'
        ' "ids", "vec", "nothing") from stdin with (format binary)'
    ]
    assert progress == _chunks(N, chunk_rows)
    assert len(sink.writes) == 2 + len(progress)  # header, one buffer per chunk, trailer

    rows = decoded(
        read_copy(sink.data),
        [decode_uuid, decode_timestamp, decode_int(2), decode_int(4), decode_int(8),
         decode_float(4), decode_float(8), decode_real_array, decode_uuid_array, decode_vector,
         decode_text],
    )  # fmt: skip
    assert len(rows) == N
    for i, row in enumerate(rows):
        assert row[0] == uuids[i].tobytes()
        assert row[1:5] == [stamps[i], int2[i], int4[i], int8[i]]
        assert row[5] == float4[i] and row[6] == float8[i]
        assert np.array_equal(row[7], arrays[i].astype(np.float32))
        assert row[8] == [u.tobytes() for u in uuid_arrays[i]]
        assert np.array_equal(row[9], vectors[i].astype(np.float32))
        assert row[10] is None
    assert np.signbit(rows[2][5])  # -0.0 stays negative


@pytest.mark.parametrize("text_first", [True, False])
def test_text_with_none_between_fixed_columns(chunk_rows: int, text_first: bool) -> None:
    names = ["ada", None, "", "héllo ✓", "x" * 300, None, "tab\there", "7", "'quote'", "end"]
    stamps = np.arange(N, dtype=np.int64) * 86_400_000_000
    vectors = np.arange(N * 2, dtype=np.float64).reshape(N, 2)
    text = {"name": bc.Text(names)}
    fixed = {"id": bc.Int(np.arange(N), size=8), "at": bc.Timestamp(stamps)}
    columns = (
        text | fixed | {"vec": bc.Vector(vectors), "note": bc.Text(names[::-1])}
        if text_first
        else fixed | text | {"vec": bc.Vector(vectors), "note": bc.Text(names[::-1])}
    )
    sink = ByteSink()
    assert bc.copy_arrays(sink, "t", columns) == N
    decoders = {"name": decode_text, "id": decode_int(8), "at": decode_timestamp,
                "vec": decode_vector, "note": decode_text}  # fmt: skip
    rows = decoded(read_copy(sink.data), [decoders[c] for c in columns])
    got = [dict(zip(columns, row, strict=True)) for row in rows]
    assert [r["id"] for r in got] == list(range(N))
    assert [r["name"] for r in got] == names  # None is NULL, "" is an empty string
    assert [r["note"] for r in got] == names[::-1]
    assert [r["at"] for r in got] == stamps.tolist()
    assert [r["vec"] for r in got] == vectors.tolist()


@pytest.mark.parametrize("with_nulls", [True, False])
def test_categories_and_nullable_vectors_are_grouped(chunk_rows: int, with_nulls: bool) -> None:
    rng = np.random.default_rng(3)
    kinds = ["view", "like", "comment"]  # labels of different lengths
    kind_codes = rng.integers(0, 3, N).astype(np.int8)
    source_codes = rng.integers(0, 2, N)
    null = rng.random(N) < 0.4 if with_nulls else np.zeros(N, dtype=bool)
    if with_nulls:
        null[:2] = True, False
    vectors = rng.normal(size=(N, 4))
    columns = {
        "id": bc.Int(np.arange(N)),
        "kind": bc.Category(kind_codes, kinds),
        "vec": bc.Vector(vectors, null=null),
        "source": bc.Category(source_codes, ["a", "bb"]),
        "score": bc.Float(np.linspace(0, 1, N)),
    }
    sink, progress = ByteSink(), []
    assert bc.copy_arrays(sink, "t", columns, on_rows=progress.append) == N
    assert progress == _chunks(N, chunk_rows)
    rows = decoded(
        read_copy(sink.data),
        [decode_int(4), decode_text, decode_vector, decode_text, decode_float(8)],
    )
    # Grouping reorders rows; every row is there once, whole.
    rows.sort(key=lambda r: r[0])
    assert [r[0] for r in rows] == list(range(N))
    for i, (_, kind, vec, source, score) in enumerate(rows):
        assert kind == kinds[kind_codes[i]]
        assert source == ["a", "bb"][source_codes[i]]
        assert score == np.linspace(0, 1, N)[i]
        if null[i]:
            assert vec is None
        else:
            assert vec == vectors[i].astype(np.float32).tolist()
    assert sum(v is None for _, _, v, _, _ in rows) == null.sum()


def test_no_rows_is_header_and_trailer() -> None:
    sink = ByteSink()
    assert bc.copy_arrays(sink, "t", {"id": bc.Int(np.zeros(0, dtype=np.int32))}) == 0
    assert read_copy(sink.data) == []
    assert sink.data == SIGNATURE + bytes(8) + b"\xff\xff"


def test_bad_column_sets_are_refused() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        bc.copy_arrays(ByteSink(), "t", {"a": bc.Int(np.arange(3)), "b": bc.Int(np.arange(4))})
    with pytest.raises(ValueError, match="can't be combined with Text"):
        bc.copy_arrays(
            ByteSink(),
            "t",
            {"a": bc.Category(np.zeros(2, dtype=int), ["x"]), "b": bc.Text(["p", "q"])},
        )


def _encode_rows(rows: list[tuple], extension: bytes = b"") -> bytes:
    """A COPY TO stream as the server sends it (int4, timestamptz, uuid), built by hand."""
    out = SIGNATURE + struct.pack(">ii", 0, len(extension)) + extension
    for n, at, uid in rows:
        out += struct.pack(">h", 3)
        out += struct.pack(">ii", 4, n)
        out += struct.pack(">iq", 8, at - Y2K_US) if at is not None else struct.pack(">i", -1)
        out += struct.pack(">i", 16) + uid
    return out + struct.pack(">h", -1)


def test_copy_out_reads_the_binary_format() -> None:
    rows = [(i - 2, Y2K_US + i * 1_000_003, bytes(range(i, i + 16))) for i in range(6)]
    buf = _encode_rows(rows, extension=b"ext!")  # a header extension is skipped
    # The server's chunks don't line up with rows.
    sink = ByteSink([buf[i : i + 7] for i in range(0, len(buf), 7)])
    got = bc.copy_out(
        sink, bc.sql.SQL("select n, at, id from t"), {"n": ">i4", "at": ">i8", "id": "V16"}
    )
    assert sink.statements == ["copy (select n, at, id from t) to stdout (format binary)"]
    assert got["n"].tolist() == [n for n, _, _ in rows]
    assert (got["at"] + Y2K_US).tolist() == [at for _, at, _ in rows]
    assert [bytes(u) for u in got["id"]] == [u for _, _, u in rows]


def test_copy_out_refuses_a_null() -> None:
    buf = _encode_rows([(1, Y2K_US, bytes(16)), (2, None, bytes(16))])
    with pytest.raises(ValueError, match="not fixed-width"):
        bc.copy_out(ByteSink([buf]), bc.sql.SQL("select 1"), {"n": ">i4", "at": ">i8", "id": "V16"})
