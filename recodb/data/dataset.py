"""The shape of feed data, whatever made it: interaction types, time units, and `Dataset`
(generated data with its planted truth, saved to and loaded from a `.npz` file).

Kept apart from the generator so that commands which only read or load data never import
faker.
"""

from __future__ import annotations

import itertools
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recodb.errors import RecodbError

INTERACTION_TYPES = ("view", "click", "like", "comment", "share")
DAY_US = 86_400 * 1_000_000
SECOND_US = 1_000_000
FORMAT_VERSION = 1
# How fast generated feeds forget a post: an impression weighs a post by quality × e^(-age/τ).
# The evaluation oracle ranks with the same τ.
FRESHNESS_TAU_US = int(1.5 * DAY_US)


@dataclass
class Dataset:
    """Generated (or loaded) data; row i of each user array is user i, and so on.

    Timestamps are int64 microseconds since the Unix epoch (UTC); ids are (n, 16) uint8 UUIDs.
    """

    params: dict
    topics: list[str]
    end_us: int
    user_id: np.ndarray
    username: list[str]
    user_created: np.ndarray
    user_topic_weights: np.ndarray  # (users, topics) float32, rows sum to 1
    user_activity: np.ndarray  # float32, relative interaction rate
    post_id: np.ndarray
    post_author: np.ndarray  # int32 user index
    post_topic: np.ndarray  # int16
    post_quality: np.ndarray  # float32
    post_created: np.ndarray
    post_text: list[str]
    follow_src: np.ndarray  # int32 user index (follower)
    follow_dst: np.ndarray  # int32 user index (followee, an author)
    follow_created: np.ndarray
    interaction_id: np.ndarray
    interaction_user: np.ndarray  # int32
    interaction_post: np.ndarray  # int32
    interaction_type: np.ndarray  # int8 index into INTERACTION_TYPES
    interaction_created: np.ndarray

    @property
    def n_users(self) -> int:
        return len(self.user_id)

    @property
    def n_posts(self) -> int:
        return len(self.post_id)

    @property
    def n_interactions(self) -> int:
        return len(self.interaction_id)

    def shift_time(self, delta_us: int) -> None:
        """Move every timestamp by `delta_us` (to replay an old file as if generated now)."""
        for name in ("user_created", "post_created", "follow_created", "interaction_created"):
            setattr(self, name, getattr(self, name) + delta_us)
        self.end_us += delta_us

    def save(self, path: Path) -> None:
        """Write an uncompressed .npz (fast to write and read; text stored as UTF-8 blobs)."""
        check_output(path)
        arrays = {
            name: getattr(self, name)
            for name in self.__dataclass_fields__
            if isinstance(getattr(self, name), np.ndarray)
        }
        for name in ("username", "post_text"):
            blob, offsets = _pack_strings(getattr(self, name))
            arrays[f"{name}_blob"], arrays[f"{name}_offsets"] = blob, offsets
        meta = {
            "format": "recodb-dataset",
            "version": FORMAT_VERSION,
            "params": self.params,
            "topics": self.topics,
            "end_us": self.end_us,
        }
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        with path.open("wb") as f:
            np.savez(f, **arrays)

    @classmethod
    def load(cls, path: Path) -> Dataset:
        """Read a file written by `save`; DatasetFileError names what is wrong with it."""
        if path.is_dir():
            raise DatasetFileError(f"{path} is a folder, not a dataset file (.npz)")
        if not path.is_file():
            raise DatasetFileError(f"{path}: no such file")
        try:
            # allow_pickle=False: a crafted file can't run code, only fail to load.
            with np.load(path, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise DatasetFileError(
                f"{path} is not a recodb dataset file (an .npz written by `recodb generate`)"
            ) from exc
        try:
            meta = json.loads(arrays["meta"].tobytes())
            if meta.get("format") != "recodb-dataset" or meta.get("version") != FORMAT_VERSION:
                raise DatasetFileError(f"{path}: unsupported dataset format {meta.get('format')!r}")
            kwargs = {name: arrays[name] for name in cls.__dataclass_fields__ if name in _ARRAYS}
            for name in ("username", "post_text"):
                kwargs[name] = _unpack_strings(arrays[f"{name}_blob"], arrays[f"{name}_offsets"])
            ds = cls(params=meta["params"], topics=meta["topics"], end_us=int(meta["end_us"]),
                     **kwargs)  # fmt: skip
        except KeyError as exc:
            raise DatasetFileError(f"{path}: missing {exc.args[0]!r}") from None
        except (ValueError, TypeError, UnicodeDecodeError, AttributeError) as exc:
            raise DatasetFileError(f"{path}: malformed dataset ({exc})") from None
        ds._check(path)
        return ds

    def _check(self, path: Path) -> None:
        """Every array has its table's length, and every index points at a row that exists."""
        sizes = {"user": self.n_users, "post": self.n_posts, "follow": len(self.follow_src),
                 "interaction": self.n_interactions}  # fmt: skip
        for name in _ARRAYS:
            table = name.split("_")[0]
            values = getattr(self, name)
            if values.ndim == 0 or len(values) != sizes[table]:
                raise DatasetFileError(f"{path}: {name} has the wrong length")
        for name, table in (("username", "user"), ("post_text", "post")):
            if len(getattr(self, name)) != sizes[table]:
                raise DatasetFileError(f"{path}: {name} has the wrong length")
        for name, bound in (
            ("post_author", self.n_users), ("follow_src", self.n_users),
            ("follow_dst", self.n_users), ("interaction_user", self.n_users),
            ("interaction_post", self.n_posts), ("interaction_type", len(INTERACTION_TYPES)),
            ("post_topic", len(self.topics)),
        ):  # fmt: skip
            values = getattr(self, name)
            if not np.issubdtype(values.dtype, np.integer):
                raise DatasetFileError(f"{path}: {name} must hold integers")
            if len(values) and (values.min() < 0 or values.max() >= bound):
                raise DatasetFileError(f"{path}: {name} points past its table ({bound} rows)")
        for name in ("user_id", "post_id", "interaction_id"):
            values = getattr(self, name)
            if values.dtype != np.uint8 or values.ndim != 2 or values.shape[1] != 16:
                raise DatasetFileError(f"{path}: {name} must be (n, 16) uint8 UUIDs")
        if self.user_topic_weights.ndim != 2 or self.user_topic_weights.shape[1] != len(
            self.topics
        ):
            raise DatasetFileError(f"{path}: user_topic_weights must have one column per topic")


class DatasetFileError(RecodbError):
    """A dataset file that can't be loaded (with what is wrong)."""


def check_output(path: Path) -> None:
    """DatasetFileError unless `path` names a file that `Dataset.save` can write."""
    if path.is_dir():
        raise DatasetFileError(f"{path} is a folder: give a file name, e.g. {path}/feed.npz")
    if not path.parent.is_dir():
        raise DatasetFileError(f"{path}: the folder {path.parent} does not exist")


# The numpy arrays of a Dataset, named <table>_<column>.
_ARRAYS = tuple(name for name, kind in Dataset.__annotations__.items() if kind == "np.ndarray")


def _pack_strings(values: list[str]) -> tuple[np.ndarray, np.ndarray]:
    encoded = [v.encode() for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


def _unpack_strings(blob: np.ndarray, offsets: np.ndarray) -> list[str]:
    data = blob.tobytes()
    bounds = offsets.tolist()
    if bounds != sorted(bounds) or (bounds and (bounds[0] < 0 or bounds[-1] > len(data))):
        raise ValueError("string offsets out of order or out of range")
    return [data[a:b].decode() for a, b in itertools.pairwise(bounds)]
