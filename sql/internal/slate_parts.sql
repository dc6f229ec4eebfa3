-- requires: 0006
-- The candidates of a user's next slate, each with the source that brought it and the parts
-- of its score, every part in [0, 1]. Computes, never writes (so it also runs on a standby).
-- Sources (the smallest wins when several bring a post; it becomes the row's `reason`):
--   1 collaborative_filtering  the nearest posts to the user's cf vector by inner product
--                              (HNSW), and posts that the user's nearest users recently liked
--                              (the nearest users stored with the version at training, else
--                              an HNSW probe)
--   2 following                fresh posts of the authors the user follows
--   3 content                  the nearest posts to the user's text profile (IVFFlat)
--   4 fresh                    fresh posts of the most popular authors
--   5 trending                 the trending posts
-- Parts:
--   collaborative  inner product with the user's cf vector / the best candidate's
--   neighbours     Σ similarity of the nearest users who liked it / the best candidate's
--   content        max(0, cosine(text profile, post text vector))
--   recency        0.5 ^ (age / recency_half_life_hours), see decay()
--   trending       engagement velocity / the best candidate's (known for the posts the trending
--                  source brought: the top of trending_post, so any other post's part is below
--                  the smallest of theirs and counts as 0)
--   following      1 when the user follows its author
-- Every statement is static, planned once per connection: the model's vectors are read through
-- the views post_vector and user_vector of the version's schema, which model_search_path() puts
-- on the path (dynamic SQL naming the version's tables was parsed and planned on every call:
-- 0.81 ms of a 6.99 ms fresh slate at 20k users × 200k posts, scripts/ab_functions.py). The
-- two post probes return what the scoring needs of each post they find (its vectors'
-- agreement with the user's, its author and time); every other candidate costs one
-- primary-key lookup in the version's post table (only posts the model has no row for are
-- looked up in `posts`).
create or replace function recodb.slate_parts(
    p_user_id uuid,
    p_version integer,
    p_cf public.vector,
    p_content public.vector,
    p_exclude uuid[],
    p_settings jsonb
)
returns table (
    post_id uuid,
    author_id uuid,
    source smallint,
    collaborative double precision,
    neighbours double precision,
    content double precision,
    recency double precision,
    trending double precision,
    following double precision
)
language plpgsql
stable
set search_path = pg_catalog, recodb, pg_temp
-- ef_search 40 covers candidates_per_source (30 by default) in one pass, and the iterative scan
-- goes on for more. Recall@30 against an exact scan at 20k users × 200k posts: inner product
-- 0.977 (0.989 at ef_search 60, for 0.16 ms more per probe). The text probe reads 5 of the
-- IVFFlat lists (about 200 posts each on average, up to 2,000 lists: 500 posts at 1M; see
-- text_lists()), and sorts every post they hold. The lists a profile lies nearest hold far
-- more than the average (k-means leaves a tight topic whole): on generated data the 5 read
-- 3,581 posts at 200k (p90 7,026) and 8,650 at 1M (p90 27,695) (scripts/ann_grid.py, `read`).
-- `recodb bench`, 20k, alternated runs (recall@50, queries mostly missed, distance gap, fresh
-- slate p50, 8 clients' slates/s):
--   5 lists   0.870, 14.0 %, 0.0027, 7.37 / 8.19 ms, 234 / 231
--   10 lists  0.921,  6.5 %, 0.0013, 10.21 / 9.05 ms, 199 / 212
--   HNSW      0.675, 30.0 %, 0.0824, 9.13 / 8.07 ms, 258 / 234 (the graph this replaced)
-- Five keep the slate as fast as the graph did; what they miss is near-ties.
set hnsw.ef_search = 40
set hnsw.iterative_scan = relaxed_order
set ivfflat.probes = 5
set ivfflat.iterative_scan = relaxed_order
-- Static statements keep one plan per connection (planning was a tenth of a fresh slate).
set plan_cache_mode = force_generic_plan
as $$
declare
    v_per_source integer := (p_settings ->> 'candidates_per_source')::integer;
    v_trained_to timestamptz;
    v_nearest uuid[] := '{}';
    v_similar uuid[] := '{}';
    v_neighbours uuid[];
    v_neighbour_sims double precision[];
    v_neighbour_count integer := (p_settings ->> 'neighbour_count')::integer;
    v_stored_neighbours integer;
    v_followed uuid[];
    v_ids uuid[];
    v_sources smallint[];
    v_supports double precision[];
    v_velocities double precision[];
    v_found uuid[] := '{}';
    v_ips double precision[] := '{}';
    v_contents double precision[] := '{}';
    v_authors uuid[] := '{}';
    v_created timestamptz[] := '{}';
    v_more uuid[];
    v_more_ips double precision[];
    v_more_contents double precision[];
    v_more_authors uuid[];
    v_more_created timestamptz[];
    v_missing uuid[];
    v_half_life double precision :=
        3600 * (p_settings ->> 'recency_half_life_hours')::float8;
    v_fresh_since timestamptz;
begin
    if p_version is not null then
        -- post_vector and user_vector below are the version's (model_search_path()).
        perform pg_catalog.set_config('search_path', recodb.model_search_path(p_version), true);
        -- metrics.neighbours: how many nearest users the version stores per user (versions
        -- trained before it have no such columns).
        select m.trained_to, (m.metrics ->> 'neighbours')::integer
        into v_trained_to, v_stored_neighbours
        from recodb.model m where m.version = p_version;
    end if;
    if p_version is not null and p_cf is not null then  -- (the views need a version)
        -- A probe returns what the scoring needs of each post it finds: no lookup later.
        select array_agg(x.post_id), array_agg(x.ip), array_agg(x.content),
               array_agg(x.author_id), array_agg(x.created_at)
        into v_nearest, v_ips, v_contents, v_authors, v_created
        from (select v.post_id, -(v.cf OPERATOR(public.<#>) p_cf) as ip,
                     1 - (v.content OPERATOR(public.<=>) p_content) as content, v.author_id,
                     v.created_at
              from post_vector v where v.cf is not null and v.post_id <> all (p_exclude)
              order by v.cf OPERATOR(public.<#>) p_cf limit v_per_source) x;
        v_found := coalesce(v_nearest, '{}');
        -- The nearest users: stored at training for the users it saw (exact, by their trained
        -- vector: what they did since moves their cf vector a little, not their neighbours),
        -- else a probe of the user graph (a user the model never saw, a version without them,
        -- or neighbour_count raised above what the version stores).
        if v_stored_neighbours >= v_neighbour_count then
            select u.neighbours[1:v_neighbour_count], u.neighbour_similarities[1:v_neighbour_count]
            into v_neighbours, v_neighbour_sims
            from user_vector u where u.user_id = p_user_id;
        end if;
        if v_neighbours is null then
            select array_agg(x.user_id order by x.d), array_agg(1 - x.d order by x.d)
            into v_neighbours, v_neighbour_sims
            from (select u.user_id, u.cf OPERATOR(public.<=>) p_cf as d from user_vector u
                  where u.user_id <> p_user_id order by u.cf OPERATOR(public.<=>) p_cf
                  limit v_neighbour_count) x;
        end if;
    end if;
    if p_version is not null and p_content is not null then
        select array_agg(x.post_id), array_agg(x.post_id) filter (where x.new),
               array_agg(x.ip) filter (where x.new), array_agg(x.content) filter (where x.new),
               array_agg(x.author_id) filter (where x.new),
               array_agg(x.created_at) filter (where x.new)
        into v_similar, v_more, v_more_ips, v_more_contents, v_more_authors, v_more_created
        from (select v.post_id, -(v.cf OPERATOR(public.<#>) p_cf) as ip,
                     1 - (v.content OPERATOR(public.<=>) p_content) as content, v.author_id,
                     v.created_at, v.post_id <> all (v_found) as new
              from post_vector v where v.content is not null and v.post_id <> all (p_exclude)
              order by v.content OPERATOR(public.<=>) p_content limit v_per_source) x;
        v_found := v_found || coalesce(v_more, '{}');
        v_ips := v_ips || v_more_ips;
        v_contents := v_contents || v_more_contents;
        v_authors := v_authors || v_more_authors;
        v_created := v_created || v_more_created;
    end if;
    select coalesce(array_agg(f.followee_id), '{}') into v_followed
    from public.follows f where f.follower_id = p_user_id;

    -- Every candidate, by its first source.
    v_fresh_since := least(v_trained_to, now() - make_interval(
        secs => 3600 * (p_settings ->> 'fresh_post_hours')::float8));
    select array_agg(g.post_id), array_agg(g.source), array_agg(g.support),
           array_agg(g.velocity), array_agg(g.post_id) filter (where f.post_id is null)
    into v_ids, v_sources, v_supports, v_velocities, v_missing
    from (select c.post_id, min(c.source) as source, max(c.support) as support,
                 max(c.velocity) as velocity
    from (
        select n.post_id, 1::smallint as source, null::float8 as support,
               null::float8 as velocity
        from unnest(coalesce(v_nearest, '{}')) n(post_id)
        union all
        (select l.post_id, 1::smallint, sum(nb.similarity), null
         from unnest(coalesce(v_neighbours, '{}'), coalesce(v_neighbour_sims, '{}'))
                  nb(user_id, similarity)
         join recodb.user_recent_likes r on r.user_id = nb.user_id
         cross join lateral unnest(r.post_ids) as l(post_id)
         -- Up to 20 × 20 liked posts against the whole seen set: an anti-join hashes it once
         -- (`<> all` compares every row with every seen post: 1.07 against 0.56 ms for a user
         -- who saw 1,055 posts, 0.45 against 0.34 ms for one who saw 57).
         where not exists (select from unnest(p_exclude) e(post_id) where e.post_id = l.post_id)
         group by l.post_id
         order by sum(nb.similarity) desc, l.post_id
         limit v_per_source)
        union all
        (select p.id, 2::smallint, null, null
         from public.posts p
         where p.author_id = any (v_followed) and p.id <> all (p_exclude)
           and p.created_at > v_fresh_since
         order by p.created_at desc, p.id
         limit v_per_source)
        union all
        select s.post_id, 3::smallint, null, null from unnest(coalesce(v_similar, '{}')) s(post_id)
        union all
        (select f.post_id, 4::smallint, null, null
         from recodb.fresh_post f
         where f.post_id <> all (p_exclude)
         order by f.popularity desc, f.created_at desc, f.post_id
         limit v_per_source)
        union all
        (select t.post_id, 5::smallint, null, t.velocity
         from recodb.trending_post t
         where t.post_id <> all (p_exclude)
         order by t.velocity desc, t.post_id
         limit v_per_source)
    ) c
    group by c.post_id) g
    left join unnest(v_found) f(post_id) on f.post_id = g.post_id;

    -- One lookup per candidate the probes did not bring: its vectors' agreement with the
    -- user's, its author and time.
    if p_version is not null and v_missing is not null then
        select array_agg(v.post_id), array_agg(-(v.cf OPERATOR(public.<#>) p_cf)),
               array_agg(1 - (v.content OPERATOR(public.<=>) p_content)),
               array_agg(v.author_id), array_agg(v.created_at)
        into v_more, v_more_ips, v_more_contents, v_more_authors, v_more_created
        from post_vector v where v.post_id = any (v_missing);
        v_found := v_found || coalesce(v_more, '{}');
        v_ips := v_ips || v_more_ips;
        v_contents := v_contents || v_more_contents;
        v_authors := v_authors || v_more_authors;
        v_created := v_created || v_more_created;
    end if;
    -- Posts the model has no row for yet (written since refresh last ran, or no model at all).
    if coalesce(cardinality(v_found), 0) < coalesce(cardinality(v_ids), 0) then
        select v_found || array_agg(p.id order by p.id),
               v_ips || array_agg(null::float8 order by p.id),
               v_contents || array_agg(null::float8 order by p.id),
               v_authors || array_agg(p.author_id order by p.id),
               v_created || array_agg(p.created_at order by p.id)
        into v_found, v_ips, v_contents, v_authors, v_created
        from (select p.id, p.author_id, p.created_at
              from public.posts p
              where p.id = any (v_ids) and p.id <> all (coalesce(v_found, '{}'))
              order by p.id) p;
    end if;

    return query
    with cand as (
        select * from unnest(coalesce(v_ids, '{}'), coalesce(v_sources, '{}'),
                             coalesce(v_supports, '{}'), coalesce(v_velocities, '{}'))
                          as x(post_id, source, support, velocity)
    ), raw as (
        select c.post_id, f.author_id, c.source, greatest(f.ip, 0) as ip, c.support,
               c.velocity, greatest(f.content, 0) as content,
               -- (date_part gives a double; extract a numeric, which took twice as long here)
               recodb.decay(date_part('epoch', now() - f.created_at), v_half_life) as recency,
               f.author_id = any (v_followed) as followed
        from cand c
        join unnest(coalesce(v_found, '{}'), coalesce(v_ips, '{}'), coalesce(v_contents, '{}'),
                    coalesce(v_authors, '{}'), coalesce(v_created, '{}'))
                 as f(post_id, ip, content, author_id, created_at)
            on f.post_id = c.post_id
    )
    select r.post_id, r.author_id, r.source,
           coalesce(r.ip / nullif(max(r.ip) over (), 0), 0),
           coalesce(r.support / nullif(max(r.support) over (), 0), 0),
           coalesce(r.content, 0),
           r.recency,
           coalesce(r.velocity / nullif(max(r.velocity) over (), 0), 0),
           case when r.followed then 1.0::float8 else 0.0::float8 end
    from raw r;
end
$$;

comment on function recodb.slate_parts(uuid, integer, public.vector, public.vector, uuid[], jsonb)
    is 'Internal: a user''s slate candidates with their source and score parts, each in [0, 1]';

revoke execute on function recodb.slate_parts(uuid, integer, public.vector, public.vector, uuid[],
                                              jsonb) from public;
