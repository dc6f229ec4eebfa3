"""The generator: deterministic, and the structure it plants is really there."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from recodb.data.dataset import DAY_US, INTERACTION_TYPES, Dataset, DatasetFileError
from recodb.data.generate import generate
from recodb.data.topics import TOPICS

END = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return generate(2000, 20_000, 200_000, seed=7, topics=12, end=END)


def _same(a: Dataset, b: Dataset) -> bool:
    for name in Dataset.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray):
            if not np.array_equal(x, y):
                return False
        elif x != y:
            return False
    return True


def test_same_seed_same_data(ds: Dataset) -> None:
    again = generate(2000, 20_000, 200_000, seed=7, topics=12, end=END)
    assert _same(ds, again)


def test_another_seed_other_data(ds: Dataset) -> None:
    other = generate(2000, 20_000, 200_000, seed=8, topics=12, end=END)
    assert not np.array_equal(ds.interaction_post, other.interaction_post)
    assert not np.array_equal(ds.user_id, other.user_id)


def test_exact_sizes(ds: Dataset) -> None:
    assert (ds.n_users, ds.n_posts, ds.n_interactions) == (2000, 20_000, 200_000)
    assert len(ds.username) == 2000 and len(ds.post_text) == 20_000
    assert len({bytes(u) for u in ds.user_id}) == 2000  # ids are unique
    assert len({bytes(i) for i in ds.interaction_id}) == 200_000


def test_uuids_are_version_4(ds: Dataset) -> None:
    assert np.all(ds.user_id[:, 6] >> 4 == 4)
    assert np.all(ds.post_id[:, 8] >> 6 == 0b10)


def test_activity_follows_a_power_law(ds: Dataset) -> None:
    per_user = np.sort(np.bincount(ds.interaction_user, minlength=ds.n_users))[::-1]
    top_tenth = per_user[: ds.n_users // 10].sum() / per_user.sum()
    # Uniform activity would give the top 10 % of users about 10 % of the interactions.
    assert top_tenth > 0.35
    assert per_user[0] > 20 * np.median(per_user)
    # Post popularity is skewed too: the top 1 % of posts draw far more than 1 %.
    per_post = np.sort(np.bincount(ds.interaction_post, minlength=ds.n_posts))[::-1]
    assert per_post[: ds.n_posts // 100].sum() / per_post.sum() > 0.05


def test_funnel_narrows(ds: Dataset) -> None:
    counts = dict(
        zip(INTERACTION_TYPES, np.bincount(ds.interaction_type, minlength=5), strict=True)
    )
    assert counts["view"] > counts["click"] > counts["like"] > counts["share"] > 0
    assert counts["click"] > counts["comment"] > 0
    assert 0.15 < counts["click"] / counts["view"] < 0.6
    assert 0.2 < counts["like"] / counts["click"] < 0.8


def test_funnel_steps_follow_their_view(ds: Dataset) -> None:
    # Every click, like, comment or share has a view of the same post by the same user before it.
    key = ds.interaction_user.astype(np.int64) * ds.n_posts + ds.interaction_post
    views = ds.interaction_type == 0
    first_view = {}
    for k, t in zip(key[views].tolist(), ds.interaction_created[views].tolist(), strict=True):
        first_view[k] = min(t, first_view.get(k, t))
    later = ~views
    for k, t in zip(key[later].tolist(), ds.interaction_created[later].tolist(), strict=True):
        assert k in first_view and first_view[k] <= t


def test_timestamps_lie_in_the_window(ds: Dataset) -> None:
    end_us = int(END.timestamp() * 1e6)
    assert ds.interaction_created.max() <= end_us
    assert ds.interaction_created.min() >= end_us - 30 * DAY_US
    # Nobody interacts with a post before it exists.
    assert np.all(ds.interaction_created >= ds.post_created[ds.interaction_post])


def test_users_engage_with_their_topics(ds: Dataset) -> None:
    likes = ds.interaction_type == INTERACTION_TYPES.index("like")
    weight_of_liked_topic = ds.user_topic_weights[
        ds.interaction_user[likes], ds.post_topic[ds.interaction_post[likes]]
    ]
    # Uniform taste would give 1/12; likes go to the topics users prefer.
    assert weight_of_liked_topic.mean() > 3 / 12
    # Deeper funnel steps are more on-topic than views.
    views = ds.interaction_type == 0
    weight_of_viewed = ds.user_topic_weights[
        ds.interaction_user[views], ds.post_topic[ds.interaction_post[views]]
    ]
    assert weight_of_liked_topic.mean() > 1.2 * weight_of_viewed.mean()


def test_post_text_is_topic_coherent(ds: Dataset) -> None:
    word_topic = {w: t for t, name in enumerate(ds.topics) for w in TOPICS[name]}
    on_topic = off_topic = 0
    for text, topic in zip(ds.post_text[:2000], ds.post_topic[:2000].tolist(), strict=True):
        for word in text.rstrip(".").replace(". #", " ").split():
            t = word_topic.get(word.lower())
            if t is not None:
                on_topic += t == topic
                off_topic += t != topic
    assert on_topic > 0 and off_topic == 0


def test_authors_write_on_few_topics_and_get_followers(ds: Dataset) -> None:
    per_author: dict[int, list[int]] = {}
    for a, t in zip(ds.post_author.tolist(), ds.post_topic.tolist(), strict=True):
        per_author.setdefault(a, []).append(t)
    assert max(len(set(ts)) for ts in per_author.values()) <= 2
    assert len(ds.follow_src) > ds.n_users  # several follows per user on average
    assert np.all(ds.follow_src != ds.follow_dst)
    pairs = ds.follow_src.astype(np.int64) * ds.n_users + ds.follow_dst
    assert len(np.unique(pairs)) == len(pairs)
    # Users follow authors who write on the topics they like.
    main_topic = {a: np.bincount([t for t in ts]).argmax() for a, ts in per_author.items()}
    weights = [
        ds.user_topic_weights[s, main_topic[d]]
        for s, d in zip(ds.follow_src.tolist(), ds.follow_dst.tolist(), strict=True)
        if d in main_topic
    ]
    assert np.mean(weights) > 2 / 12


def test_file_round_trip(ds: Dataset, tmp_path: Path) -> None:
    path = tmp_path / "data.npz"
    ds.save(path)
    assert _same(ds, Dataset.load(path))


def test_not_a_dataset_file(tmp_path: Path) -> None:
    path = tmp_path / "x.npz"
    path.write_text("hello")
    with pytest.raises(DatasetFileError, match="not a recodb dataset"):
        Dataset.load(path)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"users": 1}, "at least 2 users"),
        ({"topics": 99}, "topics must be between"),
        ({"days": 0}, "days must be"),
    ],
)
def test_bad_arguments(kwargs: dict, message: str) -> None:
    args = {"users": 10, "posts": 10, "interactions": 10} | kwargs
    with pytest.raises(ValueError, match=message):
        generate(**args)
