"""Fake social-feed data with planted structure, generated with numpy (no loop per row).

The planted truth:
- each user has topic preferences (a sparse Dirichlet draw) and an activity level (Pareto);
- a fifth of the users are authors; an author writes mostly on one topic, sometimes a second,
  with Pareto productivity and a log-normal appeal that draws followers;
- a post has one topic, a log-normal quality, and text drawn mostly from its topic's words;
- users follow authors of the topics they like, preferring appealing authors;
- each impression (a view) comes from the user's topics (70 %), the authors they follow
  (20 %) or the globally popular posts (10 %), and goes down the funnel
  view → click → like / comment → share with probabilities that rise with how much the user
  likes the post's topic; timestamps lie in the last `days` days.

The truth (preferences, post topics and qualities) travels with the data, so evaluation can
compute an oracle. The same arguments give the same data: `end` anchors every timestamp, and
only it changes between runs on different days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from faker import Faker
from faker.providers.lorem.en_US import Provider as LoremProvider

from recodb import Step
from recodb.data.dataset import DAY_US, FRESHNESS_TAU_US, SECOND_US, Dataset
from recodb.data.topics import TOPICS


def random_uuids(rng: np.random.Generator, n: int) -> np.ndarray:
    """n version-4 UUIDs as an (n, 16) uint8 array, drawn from `rng` (so reproducible)."""
    ids = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    ids[:, 6] = (ids[:, 6] & 0x0F) | 0x40
    ids[:, 8] = (ids[:, 8] & 0x3F) | 0x80
    return ids


def _categorical_rows(rng: np.random.Generator, cum: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each index in `rows`, draw a column from that row's cumulative weights `cum`."""
    out = np.empty(len(rows), dtype=np.int16)
    for start in range(0, len(rows), 1_000_000):
        part = cum[rows[start : start + 1_000_000]]
        u = rng.random(len(part)) * part[:, -1]
        out[start : start + len(part)] = (part < u[:, None]).sum(axis=1)
    return np.minimum(out, cum.shape[1] - 1)


def _sample_within_groups(
    rng: np.random.Generator,
    group_of_draw: np.ndarray,
    members_by_group: list[np.ndarray],
    cum_weight_by_group: list[np.ndarray],
    fallback: tuple[np.ndarray, np.ndarray],
) -> np.ndarray:
    """For each draw, a member of its group chosen by weight (fallback pool for empty groups)."""
    out = np.empty(len(group_of_draw), dtype=np.int64)
    for g, (members, cum) in enumerate(zip(members_by_group, cum_weight_by_group, strict=True)):
        mask = group_of_draw == g
        k = int(mask.sum())
        if k == 0:
            continue
        if len(members) == 0:
            members, cum = fallback
        picks = np.searchsorted(cum, rng.random(k) * cum[-1], side="right")
        out[mask] = members[np.minimum(picks, len(members) - 1)]
    return out


def _grouped(keys: np.ndarray, weights: np.ndarray, n_groups: int):
    order = np.argsort(keys, kind="stable")
    bounds = np.searchsorted(keys[order], np.arange(n_groups + 1))
    members = [order[bounds[g] : bounds[g + 1]] for g in range(n_groups)]
    cums = [np.cumsum(weights[m]) for m in members]
    return members, cums


def _csr(keys: np.ndarray, values: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(keys, kind="stable")
    indptr = np.searchsorted(keys[order], np.arange(n + 1))
    return indptr, values[order]


def generate(
    users: int,
    posts: int,
    interactions: int,
    seed: int = 42,
    topics: int = 20,
    days: int = 30,
    end: datetime | None = None,
    progress: Step | None = None,
) -> Dataset:
    """Generate a dataset; see the module docstring for what is planted."""
    if users < 2 or posts < 1 or interactions < 0:
        raise ValueError("need at least 2 users, 1 post and 0 interactions")
    if not 1 <= topics <= len(TOPICS):
        raise ValueError(f"topics must be between 1 and {len(TOPICS)}, got {topics}")
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    step = progress or (lambda _: None)
    end = end or datetime.now(UTC).replace(second=0, microsecond=0)
    end_us = int(end.timestamp()) * 1_000_000 + end.microsecond
    rng = np.random.default_rng(seed)
    topic_names = list(TOPICS)[:topics]
    params = {
        "users": users,
        "posts": posts,
        "interactions": interactions,
        "seed": seed,
        "topics": topics,
        "days": days,
        "end": end.isoformat(),
    }

    step("users")
    topic_popularity = rng.dirichlet(np.full(topics, 2.0))
    prefs = rng.dirichlet(topic_popularity * 0.25 * topics, size=users).astype(np.float32)
    prefs = np.maximum(prefs, 1e-6)
    prefs /= prefs.sum(axis=1, keepdims=True)
    # Pareto activity: a few users make many interactions; capped so no one dominates.
    activity = np.minimum(rng.pareto(1.3, users) + 1.0, 60.0).astype(np.float32)
    user_created = end_us - rng.integers(40 * DAY_US, 400 * DAY_US, users)
    user_id = random_uuids(rng, users)
    username = _usernames(seed, users)

    step("authors and posts")
    n_authors = max(1, round(users * 0.2))
    authors = np.sort(rng.choice(users, n_authors, replace=False))
    productivity = np.minimum(rng.pareto(1.5, n_authors) + 1.0, 500.0)
    appeal = rng.lognormal(0.0, 1.0, n_authors)
    author_primary = _categorical_rows(rng, np.cumsum(prefs, axis=1), authors)
    author_secondary = rng.choice(topics, n_authors, p=topic_popularity).astype(np.int16)
    post_author_slot = rng.choice(n_authors, posts, p=productivity / productivity.sum())
    post_topic = np.where(
        rng.random(posts) < 0.8,
        author_primary[post_author_slot],
        author_secondary[post_author_slot],
    ).astype(np.int16)
    post_quality = rng.lognormal(0.0, 1.2, posts).astype(np.float32)
    post_created = end_us - rng.integers(0, (days + 5) * DAY_US, posts)
    post_id = random_uuids(rng, posts)
    post_text = _post_texts(rng, seed, post_topic, topic_names)
    post_author = authors[post_author_slot].astype(np.int32)

    step("follows")
    follow_src, follow_dst, follow_created = _follows(
        rng, prefs, authors, author_primary, appeal, user_created, end_us
    )

    step("interactions")
    inter = _interactions(
        rng,
        interactions,
        _World(
            days=days,
            end_us=end_us,
            prefs=prefs,
            activity=activity,
            post_topic=post_topic,
            post_quality=post_quality,
            post_created=post_created,
            post_author=post_author,
            follow_src=follow_src,
            follow_dst=follow_dst,
        ),
    )
    inter_user, inter_post, inter_type, inter_created = inter
    interaction_id = random_uuids(rng, len(inter_user))

    return Dataset(
        params=params,
        topics=topic_names,
        end_us=end_us,
        user_id=user_id,
        username=username,
        user_created=user_created,
        user_topic_weights=prefs,
        user_activity=activity,
        post_id=post_id,
        post_author=post_author,
        post_topic=post_topic,
        post_quality=post_quality,
        post_created=post_created,
        post_text=post_text,
        follow_src=follow_src,
        follow_dst=follow_dst,
        follow_created=follow_created,
        interaction_id=interaction_id,
        interaction_user=inter_user,
        interaction_post=inter_post,
        interaction_type=inter_type,
        interaction_created=inter_created,
    )


def _usernames(seed: int, n: int) -> list[str]:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    firsts = [fake.first_name().lower() for _ in range(200)]
    lasts = [fake.last_name().lower() for _ in range(200)]
    # Unique by construction: the index keeps two "anna_smith"s apart.
    return [f"{firsts[i % 200]}_{lasts[(i // 200) % 200]}{i}" for i in range(n)]


def _filler_words() -> list[str]:
    topical = {w for words in TOPICS.values() for w in words}
    return [w for w in LoremProvider.word_list if w not in topical and len(w) > 2]


def _post_texts(
    rng: np.random.Generator, seed: int, post_topic: np.ndarray, topic_names: list[str]
) -> list[str]:
    """Topic-coherent text: about 55 % of words from the post's topic, the rest common words."""
    vocab = np.array([TOPICS[t] for t in topic_names], dtype=object)  # (topics, 15)
    filler = np.array(_filler_words(), dtype=object)
    n = len(post_topic)
    lengths = np.clip(rng.poisson(14, n), 5, 40)
    total = int(lengths.sum())
    owner = np.repeat(np.arange(n), lengths)
    topical = rng.random(total) < 0.55
    words = filler[rng.integers(0, len(filler), total)]
    words[topical] = vocab[
        post_topic[owner[topical]], rng.integers(0, vocab.shape[1], topical.sum())
    ]
    hashtag = rng.random(n) < 0.5
    words_list = words.tolist()
    bounds = np.concatenate([[0], np.cumsum(lengths)]).tolist()
    texts = []
    for i in range(n):
        text = " ".join(words_list[bounds[i] : bounds[i + 1]])
        text = text[0].upper() + text[1:] + "."
        if hashtag[i]:
            text += " #" + topic_names[post_topic[i]]
        texts.append(text)
    return texts


def _follows(rng, prefs, authors, author_primary, appeal, user_created, end_us):
    users, topics = prefs.shape
    n_authors = len(authors)
    counts = np.minimum(np.floor(rng.lognormal(np.log(6.0), 1.0, users)), n_authors).astype(
        np.int64
    )
    src = np.repeat(np.arange(users), counts)
    topic = _categorical_rows(rng, np.cumsum(prefs, axis=1), src)
    members, cums = _grouped(author_primary.astype(np.int64), appeal, topics)
    slot = _sample_within_groups(
        rng, topic, members, cums, (np.arange(n_authors), np.cumsum(appeal))
    )
    dst = authors[slot]
    keep = src != dst
    pairs = np.unique(src[keep].astype(np.int64) * users + dst[keep])
    src, dst = (pairs // users).astype(np.int32), (pairs % users).astype(np.int32)
    since = np.maximum(user_created[src], user_created[dst])
    created = since + (rng.random(len(src)) * (end_us - since)).astype(np.int64)
    return src, dst, created


class _RecentPosts:
    """Draws posts the way a feed shows them: by quality, decaying with the post's age.

    Time is cut into buckets; a draw in bucket b picks among the posts of its group (a topic, or
    all posts) created in the `HORIZON` before b starts, with weight quality × e^(-age / τ).
    """

    BUCKET_US = 6 * 3600 * SECOND_US
    TAU_US = FRESHNESS_TAU_US
    HORIZON_US = 10 * DAY_US

    def __init__(self, group: np.ndarray, created: np.ndarray, quality: np.ndarray, n_groups: int):
        order = np.lexsort((created, group))
        self.order = order
        self.created = created[order]
        self.quality = quality[order].astype(np.float64)
        self.bounds = np.searchsorted(group[order], np.arange(n_groups + 1))

    def draw(self, rng, group: np.ndarray, bucket_start: np.ndarray) -> np.ndarray:
        """A post index per draw, or -1 where the group had no post in the horizon."""
        out = np.full(len(group), -1, dtype=np.int64)
        key = group.astype(np.int64) * (1 << 40) + (bucket_start // self.BUCKET_US)
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        cuts = np.flatnonzero(np.diff(sorted_key)) + 1
        for seg in np.split(np.arange(len(order)), cuts):
            if len(seg) == 0:
                continue
            draws = order[seg]
            g, start = int(group[draws[0]]), int(bucket_start[draws[0]])
            lo, hi = self.bounds[g], self.bounds[g + 1]
            first = lo + np.searchsorted(self.created[lo:hi], start - self.HORIZON_US)
            last = lo + np.searchsorted(self.created[lo:hi], start)
            if last <= first:
                continue
            age = start - self.created[first:last]
            cum = np.cumsum(self.quality[first:last] * np.exp(-age / self.TAU_US))
            picks = np.searchsorted(cum, rng.random(len(draws)) * cum[-1], side="right")
            out[draws] = self.order[first + np.minimum(picks, last - first - 1)]
        return out


@dataclass(frozen=True)
class _World:
    """What impressions are drawn from: users' tastes, the posts, who follows whom, when."""

    days: int
    end_us: int
    prefs: np.ndarray
    activity: np.ndarray
    post_topic: np.ndarray
    post_quality: np.ndarray
    post_created: np.ndarray
    post_author: np.ndarray
    follow_src: np.ndarray
    follow_dst: np.ndarray


def _interactions(rng: np.random.Generator, n_rows: int, world: _World):
    """Impressions, each going down the funnel, until exactly `n_rows` rows exist."""
    days, end_us, prefs = world.days, world.end_us, world.prefs
    post_topic, post_created, post_author = world.post_topic, world.post_created, world.post_author
    n_users = len(prefs)
    topics = prefs.shape[1]
    n_posts = len(post_topic)
    empty = np.empty(0, dtype=np.int32)
    if n_rows == 0:
        return empty, empty, np.empty(0, np.int8), np.empty(0, np.int64)
    user_cum = np.cumsum(world.activity.astype(np.float64))
    pref_cum = np.cumsum(prefs, axis=1)
    pref_max = prefs.max(axis=1)
    quality = world.post_quality.astype(np.float64)
    by_topic = _RecentPosts(post_topic, post_created, quality, topics)
    everything = _RecentPosts(np.zeros(n_posts, np.int64), post_created, quality, 1)
    follow_ptr, follow_to = _csr(world.follow_src, world.follow_dst, n_users)
    # Posts by (author, creation time), to find an author's recent posts with one searchsorted.
    by_author = np.lexsort((post_created, post_author))
    author_key = (
        post_author[by_author].astype(np.int64) * (1 << 40)
        + (post_created[by_author] - (end_us - 64 * DAY_US)) // SECOND_US
    )
    window_start = end_us - days * DAY_US
    bucket = _RecentPosts.BUCKET_US

    parts: list[tuple[np.ndarray, ...]] = []
    produced = 0
    rows_per_impression = 1.3  # first guess; refined from each batch
    while produced < n_rows:
        m = int((n_rows - produced) / rows_per_impression * 1.05) + 16
        user = np.searchsorted(user_cum, rng.random(m) * user_cum[-1], side="right")
        user = np.minimum(user, n_users - 1)
        viewed = window_start + (rng.random(m) * (end_us - window_start)).astype(np.int64)
        bucket_start = viewed - (viewed - window_start) % bucket
        source = rng.random(m)
        post = np.full(m, -1, dtype=np.int64)

        # From a followed author (20 %): one of their posts from the last few days.
        by_follow = (source >= 0.7) & (source < 0.9)
        fu = user[by_follow]
        n_follows = follow_ptr[fu + 1] - follow_ptr[fu]
        pick = follow_ptr[fu] + (rng.random(len(fu)) * n_follows).astype(np.int64)
        author = np.where(n_follows > 0, follow_to[np.minimum(pick, len(follow_to) - 1)], -1)
        author = author.astype(np.int64)
        t = (viewed[by_follow] - (end_us - 64 * DAY_US)) // SECOND_US
        hi = np.searchsorted(author_key, author * (1 << 40) + t)
        lo = np.searchsorted(author_key, author * (1 << 40) + t - 3 * 86_400)
        chosen = lo + (rng.random(len(fu)) * (hi - lo)).astype(np.int64)
        post[by_follow] = np.where(
            (author >= 0) & (hi > lo), by_author[np.minimum(chosen, n_posts - 1)], -1
        )

        # From the user's topics (70 %, and wherever a followed author had nothing new).
        by_pref = (source < 0.7) | (post < 0) & by_follow
        topic = _categorical_rows(rng, pref_cum, user[by_pref])
        post[by_pref] = by_topic.draw(rng, topic, bucket_start[by_pref])
        # What's popular right now (10 %, and topics that had nothing new).
        popular = post < 0
        post[popular] = everything.draw(
            rng, np.zeros(popular.sum(), np.int64), bucket_start[popular]
        )
        keep = post >= 0  # nothing at all was posted yet: no impression
        user, post, viewed = user[keep], post[keep], viewed[keep]
        m = len(user)
        # A post created within the impression's bucket can't be seen before it exists.
        viewed = np.maximum(viewed, post_created[post])

        # The funnel: the more the user likes the post's topic, the further down they go.
        affinity = prefs[user, post_topic[post]] / pref_max[user]
        boost = np.clip(np.log(quality[post]) * 0.04, -0.08, 0.08)
        p_click = np.clip(0.05 + 0.5 * affinity + boost, 0.01, 0.95)
        click = rng.random(m) < p_click
        like = click & (rng.random(m) < 0.15 + 0.55 * affinity)
        comment = click & (rng.random(m) < 0.03 + 0.17 * affinity)
        share = like & (rng.random(m) < 0.05 + 0.25 * affinity)
        present = np.stack([np.ones(m, bool), click, like, comment, share], axis=1)

        delays = rng.exponential([20, 40, 120, 60], size=(m, 4)) * SECOND_US
        t_click = viewed + delays[:, 0]
        t_like = t_click + delays[:, 1]
        stamps = np.stack(
            [viewed, t_click, t_like, t_click + delays[:, 2], t_like + delays[:, 3]], 1
        )
        stamps = np.minimum(stamps.astype(np.int64), end_us)

        flat = np.flatnonzero(present.ravel())
        impression, kind = flat // 5, flat % 5
        take = min(len(flat), n_rows - produced)
        impression, kind = impression[:take], kind[:take]
        parts.append(
            (
                user[impression].astype(np.int32),
                post[impression].astype(np.int32),
                kind.astype(np.int8),
                stamps[impression, kind],
            )
        )
        produced += take
        rows_per_impression = max(len(flat) / max(m, 1), 1.0)

    return tuple(np.concatenate(cols) for cols in zip(*parts, strict=True))
