-- requires: 0004
-- The personalised feed. Offset 0 computes a slate of up to `slate_size` posts, stores it in
-- user_recommendation (with an expiry) and returns its first page; a later page reads the
-- stored slate, so page 2 never repeats page 1 and costs one index scan.
--
-- Candidates, each tagged with the source that brought it (its `reason`):
--   collaborative_filtering  the user's nearest posts by inner product (HNSW), and posts that
--                            the user's nearest users (cosine, HNSW) recently liked
--   following                fresh posts from authors the user follows
--   content                  posts nearest to the user's content profile (HNSW)
--   fresh                    fresh posts from the most popular authors
-- (fresh: newer than the active model, or than fresh_post_hours, whichever reaches further)
--   trending                 the trending posts (materialized view)
-- Score = (w_c·collaborative + w_t·content + w_r·recency) / (w_c + w_t + w_r), the weights
-- from setting blend_weights; every part lies in [0, 1]:
--   collaborative  inner product / the slate's best, or the neighbours' support / the best,
--                  or 0.5 for a followed author's post; for a user without a vector, the
--                  post's trending velocity / the best
--   content        max(0, cosine(user profile, post text vector))
--   recency        0.5 ^ (age / recency_half_life_hours)
-- The user's vector is their trained one plus their interactions since the model was trained,
-- folded in with (Y'Y + λI)⁻¹ Σ (1 + α·w) y: a new user's feed follows what they touch at once.
create or replace function recodb.recommend(
    p_user_id uuid,
    p_limit integer default 50,
    p_offset integer default 0,
    p_exclude_seen boolean default true
)
returns table (post_id uuid, score double precision, reason text)
language plpgsql
volatile
security definer
set search_path = recodb, public, pg_temp
set hnsw.ef_search = 100
set hnsw.iterative_scan = relaxed_order
as $$
declare
    v_settings jsonb;
    v_slate_size integer;
    v_model recodb.model;
    v_seen uuid[] := '{}';
    v_cf vector;
    v_content vector;
    -- The active model's tables, or empty stand-ins before any model is trained.
    v_posts text := '(select null::uuid as post_id, null::vector as cf, null::vector as content'
                    ' where false)';
    v_users text := '(select null::uuid as user_id, null::vector as cf, null::vector as content'
                    ' where false)';
begin
    if p_user_id is null then
        raise exception 'p_user_id must not be null' using errcode = '22023';
    end if;
    if p_limit is null or p_limit < 1 or p_limit > 500 then
        raise exception 'p_limit must be between 1 and 500, got %', p_limit using errcode = '22023';
    end if;
    if p_offset is null or p_offset < 0 then
        raise exception 'p_offset must be >= 0, got %', p_offset using errcode = '22023';
    end if;
    if p_exclude_seen is null then
        raise exception 'p_exclude_seen must not be null' using errcode = '22023';
    end if;

    -- A later page: the stored slate, when one is still valid.
    if p_offset > 0 and exists (select from user_recommendation r
                                where r.user_id = p_user_id and r.expires_at > now()) then
        return query
        select r.post_id, r.score, r.reason
        from user_recommendation r
        where r.user_id = p_user_id and r.expires_at > now()
        order by r.score desc, r.post_id
        limit p_limit offset p_offset;
        return;
    end if;

    select jsonb_object_agg(s.key, s.value) into v_settings from recodb.setting s;
    -- A slate covers the page asked for, up to the 500 posts a feed session can hold.
    v_slate_size := least(500, greatest((v_settings ->> 'slate_size')::integer, p_offset + p_limit));
    select * into v_model from recodb.model m where m.status = 'active';
    if v_model.version is not null then
        v_posts := format('recodb.%I', 'post_vector_v' || v_model.version);
        v_users := format('recodb.%I', 'user_vector_v' || v_model.version);
    end if;
    if p_exclude_seen then
        select coalesce(array_agg(distinct i.post_id), '{}') into v_seen
        from user_interaction i where i.user_id = p_user_id;
    end if;

    if v_model.version is not null then
        execute format(
            $q$
            with trained as (
                select u.cf, u.content from %2$s u where u.user_id = $1
            ), recent as (
                select i.post_id, ($2 ->> i.interaction_type)::real as w
                from user_interaction i
                where i.user_id = $1 and i.created_at > $3
                order by i.created_at desc
                limit 200
            ), sums as (
                select sum(v.cf * array_fill((1 + $5 * r.w)::real, array[%3$s])::vector) as cf,
                       sum(v.content * array_fill(r.w, array[vector_dims(v.content)])::vector)
                           filter (where v.content is not null) as content,
                       sum(r.w) filter (where v.content is not null) as content_weight
                from recent r join %1$s v on v.post_id = r.post_id
                where v.cf is not null and r.w > 0
            ), folded as (
                select case when $4 is null then s.cf::real[] else (
                           select array_agg(x.value order by x.row)
                           from (select r.row, sum($4[r.row * %3$s + c.col + 1] * a.elem[c.col + 1])
                                           as value
                                 from (select s.cf::real[] as elem) a,
                                      generate_series(0, %3$s - 1) r(row),
                                      generate_series(0, %3$s - 1) c(col)
                                 group by r.row) x) end as cf
                from sums s
                where s.cf is not null
            )
            select case when t.cf is null then f.cf::vector
                        when f.cf is null then t.cf
                        else t.cf + f.cf::vector end,
                   case when s.content is null then t.content
                        when t.content is null then s.content
                        -- the trained profile is a unit vector: old taste and new weigh alike
                        else t.content + s.content
                             * array_fill((1 / s.content_weight)::real,
                                          array[vector_dims(s.content)])::vector end
            from (select) one
            left join trained t on true
            left join folded f on true
            left join sums s on true
            $q$,
            v_posts, v_users, v_model.factors)
        into v_cf, v_content
        using p_user_id, v_settings -> 'interaction_weights', v_model.trained_to,
              v_model.fold_in, coalesce((v_model.params ->> 'alpha')::real, 0);
    end if;

    -- One slate per user at a time.
    perform pg_advisory_xact_lock(hashtextextended(p_user_id::text, 7));
    delete from user_recommendation r where r.user_id = p_user_id;
    execute format(
        $q$
        insert into user_recommendation
            (user_id, post_id, score, reason, model_version, generated_at, expires_at)
        with nearest as (
            select v.post_id, 1 as source, null::float8 as support
            from %1$s v
            where $2 is not null and v.cf is not null and v.post_id <> all ($4)
            order by v.cf <#> $2
            limit $5
        ), neighbours as (
            select u.user_id, 1 - (u.cf <=> $2) as similarity
            from %2$s u
            where $2 is not null and u.user_id <> $1
            order by u.cf <=> $2
            limit $6
        ), liked_by_neighbours as (
            select l.post_id, 1 as source, sum(n.similarity) as support
            from neighbours n
            join recodb.user_recent_likes r on r.user_id = n.user_id
            cross join lateral unnest(r.post_ids) as l(post_id)
            where l.post_id <> all ($4)
            group by l.post_id
            order by sum(n.similarity) desc, l.post_id
            limit $5
        ), following as (
            select p.id as post_id, 2 as source, null::float8 as support
            from follows f
            join posts p on p.author_id = f.followee_id
            where f.follower_id = $1 and p.id <> all ($4)
              and p.created_at > least($7, now() - make_interval(secs => $8 * 3600))
            order by p.created_at desc, p.id
            limit $5
        ), similar_content as (
            select v.post_id, 3 as source, null::float8 as support
            from %1$s v
            where $3 is not null and v.content is not null and v.post_id <> all ($4)
            order by v.content <=> $3
            limit $5
        ), fresh as (
            select p.id as post_id, 4 as source, null::float8 as support
            from (select a.author_id from recodb.author_popularity a
                  order by a.popularity desc, a.author_id limit 100) a
            join posts p on p.author_id = a.author_id
            where p.id <> all ($4)
              and p.created_at > least($7, now() - make_interval(secs => $8 * 3600))
            order by p.created_at desc, p.id
            limit $5
        ), trend as (
            select t.post_id, 5 as source, null::float8 as support
            from recodb.trending_post t
            where t.post_id <> all ($4)
            order by t.velocity desc, t.post_id
            limit $5
        ), candidates as (
            select c.post_id, min(c.source) as source, max(c.support) as support
            from (select * from nearest
                  union all select * from liked_by_neighbours
                  union all select * from following
                  union all select * from similar_content
                  union all select * from fresh
                  union all select * from trend) c
            group by c.post_id
        ), parts as (
            select c.post_id, c.source, p.author_id,
                   greatest(-(v.cf <#> $2), 0) as ip,
                   c.support,
                   t.velocity,
                   greatest(1 - (v.content <=> $3), 0) as content,
                   exp(ln(0.5) * greatest(extract(epoch from now() - p.created_at), 0)
                       / 3600.0 / $9) as recency
            from candidates c
            join posts p on p.id = c.post_id
            left join %1$s v on v.post_id = c.post_id
            left join recodb.trending_post t on t.post_id = c.post_id
        ), scored as (
            select x.post_id, x.source, x.author_id,
                   ($10 * case
                              when $2 is null then coalesce(x.velocity / nullif(max(x.velocity) over (), 0), 0)
                              else greatest(coalesce(x.ip / nullif(max(x.ip) over (), 0), 0),
                                            coalesce(x.support / nullif(max(x.support) over (), 0), 0),
                                            case when x.source = 2 then 0.5 else 0 end)
                          end
                    + $11 * coalesce(x.content, 0)
                    + $12 * x.recency) / ($10 + $11 + $12) as score
            from parts x
        ), capped as (
            select s.*, row_number() over (partition by s.author_id
                                           order by s.score desc, s.post_id) as nth
            from scored s
        )
        select $1, c.post_id, c.score,
               (array['collaborative_filtering', 'following', 'content', 'fresh', 'trending'])[c.source],
               $15, now(), now() + make_interval(secs => $16)
        from capped c
        where c.author_id is null or c.nth <= $13
        order by c.score desc, c.post_id
        limit $14
        $q$,
        v_posts, v_users)
    using p_user_id, v_cf, v_content, v_seen,
          (v_settings ->> 'candidates_per_source')::integer,
          (v_settings ->> 'neighbour_count')::integer,
          v_model.trained_to,
          (v_settings ->> 'fresh_post_hours')::float8,
          (v_settings ->> 'recency_half_life_hours')::float8,
          (v_settings -> 'blend_weights' ->> 'collaborative')::float8,
          (v_settings -> 'blend_weights' ->> 'content')::float8,
          (v_settings -> 'blend_weights' ->> 'recency')::float8,
          (v_settings ->> 'max_posts_per_author')::integer,
          v_slate_size,
          v_model.version,
          (v_settings ->> 'slate_ttl_seconds')::float8;

    return query
    select r.post_id, r.score, r.reason
    from user_recommendation r
    where r.user_id = p_user_id
    order by r.score desc, r.post_id
    limit p_limit offset p_offset;
end
$$;

comment on function recodb.recommend(uuid, integer, integer, boolean) is
    'The feed of p_user_id: (post_id, score in [0, 1], reason), best first, ties by post_id. '
    'Offset 0 computes and stores a slate; later offsets page through it';

revoke execute on function recodb.recommend(uuid, integer, integer, boolean) from public;
grant execute on function recodb.recommend(uuid, integer, integer, boolean)
    to recodb_feed_reader, recodb_tracker;
