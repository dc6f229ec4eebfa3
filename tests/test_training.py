"""Training and the registry, on data whose answer is known by construction.

Two groups: users a0..a11 interact only with posts pa0..pa19, users b0..b11 only with
pb0..pb19, and the two groups' posts use different words. Every user, post and neighbour the
model finds must come from the same group.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from recodb.training import registry
from recodb.training.fit import Params
from recodb.training.matrix import confidence_matrix, read_interactions, read_settings
from recodb.training.train import TrainingError, train

GROUPS = ("a", "b")
WORDS = {"a": "alpine glacier summit ridge crampon", "b": "harbour sailing anchor regatta keel"}
PARAMS = Params(factors=4, regularization=5.0, alpha=10.0, iterations=20, content_dims=4, seed=1)


def _id(name: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, name)


def _group_of(item: uuid.UUID) -> str:
    return next(g for g in GROUPS for i in range(40) if item in (_id(f"{g}{i}"), _id(f"p{g}{i}")))


@pytest.fixture
def two_groups(conn: psycopg.Connection) -> psycopg.Connection:
    rng = np.random.default_rng(0)
    now = datetime.now(UTC)
    for g in GROUPS:
        for i in range(12):
            conn.execute(
                "insert into users (id, username) values (%s, %s)", (_id(f"{g}{i}"), f"{g}{i}")
            )
        for i in range(20):
            words = " ".join(rng.permutation(WORDS[g].split()))
            conn.execute(
                "insert into posts (id, content, created_at) values (%s, %s, %s)",
                (_id(f"p{g}{i}"), words, now - timedelta(days=10)),
            )
    rows = []
    for g in GROUPS:
        for u in range(12):
            for p in rng.choice(20, 12, replace=False):
                kind = rng.choice(["view", "click", "like", "share"])
                when = now - timedelta(hours=float(rng.uniform(1, 200)))
                rows.append((_id(f"{g}{u}"), _id(f"p{g}{p}"), kind, when))
    with conn.cursor() as cur:
        cur.executemany(
            "insert into user_interaction (user_id, post_id, interaction_type, created_at)"
            " values (%s, %s, %s, %s)",
            rows,
        )
    return conn


def _vectors(conn: psycopg.Connection, version: int) -> list[tuple]:
    return conn.execute(
        registry.model_table(conn, "post", version)
        .as_string(conn)
        .join(["select post_id, cf::text, content::text from ", " order by post_id"])
    ).fetchall()


def _similar_posts(conn: psycopg.Connection, post: uuid.UUID, limit: int = 5) -> list[tuple]:
    return conn.execute("select * from recodb.similar_posts(%s, %s)", (post, limit)).fetchall()


def test_model_separates_the_groups(two_groups: psycopg.Connection) -> None:
    conn = two_groups
    result = train(conn, PARAMS)
    assert result.activated and registry.active_version(conn) == result.version
    posts = registry.model_table(conn, "post", result.version)
    users = registry.model_table(conn, "user", result.version)
    for g in GROUPS:
        for u in range(12):
            top = conn.execute(
                sql.SQL(
                    "select p.post_id from {} p, {} u where u.user_id = %s"
                    " order by p.cf <#> u.cf limit 8"
                ).format(posts, users),
                (_id(f"{g}{u}"),),
            ).fetchall()
            assert {_group_of(p) for (p,) in top} == {g}
        for p in range(20):
            similar = _similar_posts(conn, _id(f"p{g}{p}"))
            assert len(similar) == 5
            assert {_group_of(q) for q, _ in similar} == {g}
            assert _id(f"p{g}{p}") not in [q for q, _ in similar]
            sims = [s for _, s in similar]
            assert sims == sorted(sims, reverse=True) and all(0 <= s <= 1 for s in sims)
        neighbours = conn.execute(
            "select * from recodb.similar_users(%s, 6)", (_id(f"{g}0"),)
        ).fetchall()
        assert {_group_of(u) for u, _ in neighbours} == {g}
        # Content vectors come from the words: a post's nearest by text is in its group too.
        nearest = conn.execute(
            sql.SQL(
                "select q.post_id from {0} p, {0} q where p.post_id = %s"
                " and q.post_id <> p.post_id order by p.content <=> q.content limit 5"
            ).format(posts),
            (_id(f"p{g}0"),),
        ).fetchall()
        assert {_group_of(p) for (p,) in nearest} == {g}


def _neighbour_groups(conn: psycopg.Connection, user: uuid.UUID, version: int) -> set[str]:
    """The groups of the posts that reached a fresh slate of `user` through their nearest
    users' likes (a neighbours part above 0)."""
    rows = conn.execute(
        "with s as (select jsonb_object_agg(key, value) as v from recodb.setting)"
        " select x.post_id from s,"
        " recodb.user_taste(%(u)s, %(v)s, s.v -> 'interaction_weights') t,"
        " recodb.slate_parts(%(u)s, %(v)s, t.cf, t.content, '{}', s.v) x"
        " where x.neighbours > 0",
        {"u": user, "v": version},
    ).fetchall()
    return {_group_of(p) for (p,) in rows}


def test_nearest_users_are_stored_and_served(two_groups: psycopg.Connection) -> None:
    conn = two_groups
    version = train(conn, PARAMS).version
    # neighbour_count is 20, and each of the 24 users has 23 others.
    assert registry.list_versions(conn)[0]["metrics"]["neighbours"] == 20
    users = registry.model_table(conn, "user", version)
    stored = conn.execute(
        sql.SQL("select user_id, neighbours, neighbour_similarities from {}").format(users)
    ).fetchall()
    assert len(stored) == 24
    with conn.transaction():
        conn.execute("set local enable_indexscan = off")  # an exact scan
        for user, ids, sims in stored:
            exact = conn.execute(
                sql.SQL(
                    "select 1 - (o.cf <=> u.cf) from {0} o, {0} u where u.user_id = %s"
                    " and o.user_id <> u.user_id order by o.cf <=> u.cf limit 20"
                ).format(users),
                (user,),
            ).fetchall()
            assert len(ids) == 20 and user not in ids and len(set(ids)) == 20
            assert np.allclose(sims, [s for (s,) in exact], atol=1e-5)
            assert {_group_of(v) for v in ids[:11]} == {_group_of(user)}

    # Serving reads the first neighbour_count of the stored list: pointed at the other group,
    # a0's neighbours' likes are the other group's posts.
    conn.execute("select recodb.refresh()")
    conn.execute("update recodb.setting set value = '8' where key = 'neighbour_count'")
    a0 = _id("a0")
    assert _neighbour_groups(conn, a0, version) == {"a"}
    conn.execute(
        sql.SQL("update {} set neighbours = %s where user_id = %s").format(users),
        ([_id(f"b{i}") for i in range(12)] + [_id(f"a{i}") for i in range(1, 9)], a0),
    )
    assert _neighbour_groups(conn, a0, version) == {"b"}
    # When the version stores fewer than neighbour_count, a probe of the user graph finds them.
    conn.execute(
        "update recodb.model set metrics = jsonb_set(metrics, '{neighbours}', '5')"
        " where version = %s",
        (version,),
    )
    assert _neighbour_groups(conn, a0, version) == {"a"}


def test_registry_records_the_run(two_groups: psycopg.Connection) -> None:
    result = train(two_groups, PARAMS)
    row = registry.list_versions(two_groups)[0]
    assert row["version"] == result.version and row["status"] == "active"
    assert row["algorithm"] == "als" and row["params"]["factors"] == 4
    assert (row["n_users"], row["n_posts"], row["n_interactions"]) == (24, 40, 288)
    assert row["factors"] == 4 and row["content_dims"] == 4
    assert row["trained_from"] < row["trained_to"]
    for step in ("read interactions", "fit als", "write vectors", "build indexes", "total"):
        assert row["timings"][step] >= 0
    # The final fit started from the validation fit (the same parameters), with 0.4 of them.
    assert row["metrics"]["fit"] == {"from": "validation fit", "iterations": 8}
    blend_steps = row["timings"]["blend"]
    assert "HNSW post inner product (draft)" in blend_steps and "fit the blend" in blend_steps
    assert any(name.startswith("serve ") for name in blend_steps)
    fold_in = two_groups.execute(
        "select array_length(fold_in, 1) from recodb.model where version = %s", (result.version,)
    ).fetchone()[0]
    assert fold_in == 16


def test_same_data_same_seed_same_vectors(two_groups: psycopg.Connection) -> None:
    first = train(two_groups, PARAMS).version
    second = train(two_groups, PARAMS).version
    assert _vectors(two_groups, first) == _vectors(two_groups, second)
    other = train(two_groups, Params(**{**PARAMS.__dict__, "seed": 2})).version
    assert _vectors(two_groups, other) != _vectors(two_groups, first)


def test_bpr_also_trains(two_groups: psycopg.Connection) -> None:
    bpr = Params(algorithm="bpr", factors=8, iterations=200, learning_rate=0.05, content_dims=0)
    version = train(two_groups, bpr).version
    row = registry.list_versions(two_groups)[0]
    assert row["algorithm"] == "bpr" and row["content_dims"] == 0
    similar = _similar_posts(two_groups, _id("pa0"), 10)
    assert sum(_group_of(p) == "a" for p, _ in similar) >= 8
    assert registry.active_version(two_groups) == version


def test_rollback_restores_the_previous_vectors_exactly(two_groups: psycopg.Connection) -> None:
    conn = two_groups
    v1 = train(conn, PARAMS).version
    before = {p: _similar_posts(conn, _id(f"pa{p}")) for p in range(20)}
    vectors = _vectors(conn, v1)
    v2 = train(conn, Params(**{**PARAMS.__dict__, "factors": 6, "seed": 9})).version
    assert registry.active_version(conn) == v2
    assert {p: _similar_posts(conn, _id(f"pa{p}")) for p in range(20)} != before
    assert registry.rollback(conn) == v1
    assert registry.active_version(conn) == v1
    assert {p: _similar_posts(conn, _id(f"pa{p}")) for p in range(20)} == before
    assert _vectors(conn, v1) == vectors
    statuses = {r["version"]: r["status"] for r in registry.list_versions(conn)}
    assert statuses == {v1: "active", v2: "retired"}


def test_activation_under_concurrent_readers(db_url: str, two_groups: psycopg.Connection) -> None:
    conn = two_groups
    v1 = train(conn, PARAMS).version
    v2 = train(conn, Params(**{**PARAMS.__dict__, "factors": 6, "seed": 9})).version
    probe = _id("pa3")
    answers = {}
    for version in (v1, v2):
        registry.activate(conn, version)
        answers[version] = _similar_posts(conn, probe, 10)
    assert answers[v1] != answers[v2]

    stop = threading.Event()
    errors: list[BaseException] = []
    seen: list[int] = []

    def reader() -> None:
        with psycopg.connect(db_url, autocommit=True) as c:
            while not stop.is_set():
                try:
                    got = c.execute(
                        "select * from recodb.similar_posts(%s, 10)", (probe,)
                    ).fetchall()
                    seen.append(next(v for v, a in answers.items() if a == got))
                except BaseException as exc:  # a mixed answer (StopIteration) lands here too
                    errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(6)]
    for t in threads:
        t.start()
    for i in range(30):
        registry.activate(conn, (v1, v2)[i % 2])
    stop.set()
    for t in threads:
        t.join()
    assert errors == []
    assert len(seen) > 30 and set(seen) == {v1, v2}


def test_interrupted_training_leaves_the_active_model(two_groups: psycopg.Connection) -> None:
    conn = two_groups
    v1 = train(conn, PARAMS).version
    before = _similar_posts(conn, _id("pb2"))

    def interrupt_while_indexing(step: str) -> None:
        if step == "HNSW post cosine":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(conn, Params(**{**PARAMS.__dict__, "seed": 5}), on_step=interrupt_while_indexing)
    rows = {r["version"]: r for r in registry.list_versions(conn)}
    failed = max(rows)
    assert rows[failed]["status"] == "failed" and "KeyboardInterrupt" in rows[failed]["error"]
    assert registry.active_version(conn) == v1
    assert _similar_posts(conn, _id("pb2")) == before
    # Nothing half-written stays behind.
    assert conn.execute("select recodb.model_table('post', %s)", (failed,)).fetchone()[0] is None
    with pytest.raises(registry.RegistryError, match="is failed"):
        registry.activate(conn, failed)


def test_a_killed_training_is_marked_failed_by_the_next(two_groups: psycopg.Connection) -> None:
    conn = two_groups
    stale = conn.execute(
        "insert into recodb.model (algorithm, status) values ('als', 'training') returning version"
    ).fetchone()[0]
    train(conn, PARAMS)
    row = next(r for r in registry.list_versions(conn) if r["version"] == stale)
    assert row["status"] == "failed" and "interrupted" in row["error"]


def test_one_training_at_a_time(db_url: str, two_groups: psycopg.Connection) -> None:
    with psycopg.connect(db_url, autocommit=True) as other:
        other.execute("select pg_advisory_lock(hashtext('recodb.train'))")
        with pytest.raises(TrainingError, match="another training is running"):
            train(two_groups, PARAMS)


def test_prune_keeps_the_newest(two_groups: psycopg.Connection) -> None:
    conn = two_groups
    versions = [train(conn, PARAMS, activate=False).version for _ in range(3)]
    registry.activate(conn, versions[0])
    removed = registry.prune(conn, keep=1)
    assert removed == [versions[1]]
    remaining = {r["version"]: r["status"] for r in registry.list_versions(conn)}
    assert remaining == {versions[0]: "active", versions[2]: "ready"}
    gone = conn.execute("select recodb.model_table('post', %s)", (versions[1],)).fetchone()[0]
    assert gone is None


def test_no_interactions_is_a_clear_error(conn: psycopg.Connection) -> None:
    with pytest.raises(TrainingError, match="no interactions"):
        train(conn, PARAMS)
    assert registry.list_versions(conn)[0]["status"] == "failed"


def test_confidence_follows_the_settings(two_groups: psycopg.Connection) -> None:
    conn = two_groups
    data = read_interactions(conn)
    weights = {"view": 0, "click": 2, "like": 5, "comment": 8, "share": 10}
    conn.execute(
        "update recodb.setting set value = %s where key = 'interaction_weights'", (Jsonb(weights),)
    )
    settings = read_settings(conn)  # what training reads, not the dict above
    assert settings["interaction_weights"] == weights
    matrix = confidence_matrix(
        data, settings["interaction_weights"], settings["training_half_life_days"], data.until_us
    )
    views_only = data.select(data.kind == 0)
    view_pairs = set(zip(views_only.user.tolist(), views_only.post.tolist(), strict=True))
    other = data.select(data.kind != 0)
    other_pairs = set(zip(other.user.tolist(), other.post.tolist(), strict=True))
    assert len(view_pairs - other_pairs) > 10 and len(other_pairs) > 10
    for u, p in view_pairs - other_pairs:
        assert matrix[u, p] == 0  # a weight of 0 removes plain views
    for u, p in other_pairs:
        assert matrix[u, p] > 0
    # A week-old like counts half of a fresh one when the half-life is a week.
    fresh = confidence_matrix(data, weights, 7.0, data.until_us)
    later = confidence_matrix(data, weights, 7.0, data.until_us + 7 * 86_400_000_000)
    assert np.allclose(later.toarray(), fresh.toarray() / 2, rtol=1e-5)


@pytest.mark.parametrize("limit", [0, 501, None])
def test_neighbour_functions_check_their_limit(two_groups: psycopg.Connection, limit) -> None:
    train(two_groups, PARAMS)
    for fn in ("similar_posts", "similar_users"):
        with pytest.raises(psycopg.errors.InvalidParameterValue) as info:
            two_groups.execute(
                sql.SQL("select * from recodb.{}(%s, %s)").format(sql.Identifier(fn)),
                (_id("pa0"), limit),
            )
        assert info.value.sqlstate == "22023"


def test_unknown_ids_and_no_model_give_nothing(two_groups: psycopg.Connection) -> None:
    conn = two_groups
    assert _similar_posts(conn, _id("pa0")) == []  # no model yet
    train(conn, PARAMS)
    assert _similar_posts(conn, uuid.uuid4()) == []
    assert (
        conn.execute("select * from recodb.similar_users(%s, 5)", (uuid.uuid4(),)).fetchall() == []
    )


def test_reseeding_removes_the_models(two_groups: psycopg.Connection) -> None:
    from recodb.data import load as loading
    from recodb.data.generate import generate

    version = train(two_groups, PARAMS).version
    loaded = loading.load(two_groups, generate(30, 60, 300, seed=2), replace=True)
    assert loaded.models_removed == 1
    assert registry.list_versions(two_groups) == []
    gone = two_groups.execute("select recodb.model_table('post', %s)", (version,)).fetchone()[0]
    assert gone is None


def test_text_lists(conn: psycopg.Connection) -> None:
    """IVFFlat lists of a text index: about 200 posts a list (1,000 for a draft), 1 to 2,000."""
    cases = {
        (None, False): 1,
        (0, False): 1,
        (200, False): 1,
        (201, False): 2,
        (200_000, False): 1000,
        (1_000_000, False): 2000,
        (5000, True): 5,
        (200_000, True): 200,
        (10_000_000, True): 2000,
    }
    for (texts, draft), lists in cases.items():
        got = conn.execute("select recodb.text_lists(%s, %s)", (texts, draft)).fetchone()[0]
        assert got == lists, (texts, draft, got)


def test_graph_options_follow_the_probes(two_groups: psycopg.Connection) -> None:
    """The graph a user's vector probes (inner product) keeps pgvector's defaults, which its
    recall needs; the graphs probed by their own points (post and user cosine) are sparse, and
    so are the draft graphs blend learning builds (m = 8, ef_construction = 32); text has
    IVFFlat lists of about 200 posts."""
    version = train(two_groups, PARAMS).version
    sparse = ["m=8", "ef_construction=32"]
    options = "select reloptions from pg_class where oid = %s::regclass"
    graphs = {
        f"post_vector_v{version}_cf_ip": None,
        f"post_vector_v{version}_content_cos": ["lists=1"],  # about 200 posts a list
        f"post_vector_v{version}_cf_cos": sparse,
        f"user_vector_v{version}_cf_cos": sparse,
    }
    for name, expected in graphs.items():
        assert two_groups.execute(options, (f"recodb.{name}",)).fetchone()[0] == expected, name
    name = f"post_vector_v{version}_cf_ip"
    with two_groups.transaction():
        two_groups.execute(sql.SQL("drop index {}").format(sql.Identifier("recodb", name)))
        two_groups.execute(
            "select recodb.index_model_table(%s, 'HNSW post inner product', true)", (version,)
        )
        assert two_groups.execute(options, (f"recodb.{name}",)).fetchone()[0] == sparse
        raise psycopg.Rollback()
