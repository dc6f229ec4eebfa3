-- requires: 0004
-- Internal to recommend(): add up to p_count posts to p_user_id's slate in user_recommendation,
-- never one of p_exclude, each scored (times p_ceiling, so that a continuation sorts after what
-- the slate already holds) as described in recommend.sql, with at most max_posts_per_author
-- posts per author in the whole slate. When the candidate sources run dry, the newest posts
-- fill the rest (reason fresh), so the slate is full whenever enough eligible posts exist.
-- Returns the number of posts added. p_version is the model the caller read (null: none), so
-- one call never mixes two models.
create or replace function recodb.fill_slate(
    p_user_id uuid,
    p_version integer,
    p_count integer,
    p_exclude uuid[],
    p_ceiling double precision,
    p_settings jsonb
)
returns integer
language plpgsql
volatile
set search_path = recodb, public, pg_temp
-- ef_search 60 covers candidates_per_source (60) in one pass; `recodb bench` measures the
-- recall of these settings against an exact scan (1.00 at 20k users × 200k posts).
set hnsw.ef_search = 60
set hnsw.iterative_scan = relaxed_order
as $$
declare
    v_model recodb.model;
    v_cf vector;
    v_content vector;
    v_added integer;
    v_more integer := 0;
    v_found integer;
    v_scan integer;
    -- The model's tables, or empty stand-ins before any model is trained.
    v_posts text := '(select null::uuid as post_id, null::vector as cf, null::vector as content'
                    ' where false)';
    v_users text := '(select null::uuid as user_id, null::vector as cf, null::vector as content'
                    ' where false)';
    v_weights double precision[] := array[
        (p_settings -> 'blend_weights' ->> 'collaborative')::float8,
        (p_settings -> 'blend_weights' ->> 'content')::float8,
        (p_settings -> 'blend_weights' ->> 'recency')::float8];
begin
    select * into v_model from recodb.model m where m.version = p_version;
    if v_model.version is not null then
        v_posts := recodb.model_table_name('post', v_model.version);
        v_users := recodb.model_table_name('user', v_model.version);
        -- The user's vectors: trained, plus what they did since, folded in.
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
        using p_user_id, p_settings -> 'interaction_weights', v_model.trained_to,
              v_model.fold_in, coalesce((v_model.params ->> 'alpha')::real, 0);
    end if;

    execute format(
        $q$
        insert into user_recommendation
            (user_id, post_id, score, reason, model_version, generated_at, expires_at)
        with placed as (  -- authors already in this user's slate (when continuing it)
            select p.author_id, count(*) as n
            from user_recommendation r join posts p on p.id = r.post_id
            where r.user_id = $1
            group by p.author_id
        ), nearest as (
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
            select f.post_id, 4 as source, null::float8 as support
            from recodb.fresh_post f
            where f.post_id <> all ($4)
            order by f.popularity desc, f.created_at desc, f.post_id
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
                   recodb.decay(extract(epoch from now() - p.created_at), 3600 * $9)
                       as recency
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
        select $1, c.post_id, c.score * $17,
               (array['collaborative_filtering', 'following', 'content', 'fresh', 'trending'])[c.source],
               $15, now(), now() + make_interval(secs => $16)
        from capped c
        left join placed on placed.author_id = c.author_id
        where c.author_id is null or c.nth + coalesce(placed.n, 0) <= $13
        order by c.score desc, c.post_id
        limit $14
        $q$,
        v_posts, v_users)
    using p_user_id, v_cf, v_content, p_exclude,
          (p_settings ->> 'candidates_per_source')::integer,
          (p_settings ->> 'neighbour_count')::integer,
          v_model.trained_to,
          (p_settings ->> 'fresh_post_hours')::float8,
          (p_settings ->> 'recency_half_life_hours')::float8,
          v_weights[1], v_weights[2], v_weights[3],
          (p_settings ->> 'max_posts_per_author')::integer,
          p_count,
          v_model.version,
          (p_settings ->> 'slate_ttl_seconds')::float8,
          p_ceiling;
    get diagnostics v_added = row_count;

    -- Short of posts: the newest ones fill the rest. The scan widens until the slate is full
    -- or every post has been looked at (the author cap may skip many).
    v_scan := 4 * (p_count - v_added) + 100;
    while v_added + v_more < p_count loop
        with placed as (
            select p.author_id, count(*) as n
            from user_recommendation r join posts p on p.id = r.post_id
            where r.user_id = p_user_id
            group by p.author_id
        ), newest as (
            select p.id, p.author_id, p.created_at,
                   row_number() over (partition by p.author_id order by p.created_at desc, p.id)
                       as nth
            from (select p.id, p.author_id, p.created_at
                  from posts p
                  where p.id <> all (p_exclude)
                    and not exists (select from user_recommendation r
                                    where r.user_id = p_user_id and r.post_id = p.id)
                  order by p.created_at desc, p.id
                  limit v_scan) p
        )
        insert into user_recommendation
            (user_id, post_id, score, reason, model_version, generated_at, expires_at)
        select p_user_id, n.id,
               p_ceiling * v_weights[3]
                   * recodb.decay(extract(epoch from now() - n.created_at),
                                  3600 * (p_settings ->> 'recency_half_life_hours')::float8)
                   / (v_weights[1] + v_weights[2] + v_weights[3]),
               'fresh', v_model.version, now(),
               now() + make_interval(secs => (p_settings ->> 'slate_ttl_seconds')::float8)
        from newest n
        left join placed on placed.author_id = n.author_id
        where n.author_id is null
           or n.nth + coalesce(placed.n, 0) <= (p_settings ->> 'max_posts_per_author')::integer
        order by n.created_at desc, n.id
        limit p_count - v_added - v_more;
        get diagnostics v_found = row_count;
        v_more := v_more + v_found;
        exit when v_added + v_more >= p_count;  -- full: no need to count the posts
        exit when v_scan >= (select count(*) from posts);
        v_scan := v_scan * 4;
    end loop;
    return v_added + v_more;
end
$$;

comment on function recodb.fill_slate(uuid, integer, integer, uuid[], double precision, jsonb) is
    'Internal to recommend(): adds up to p_count scored posts to a user''s slate';

revoke execute on function recodb.fill_slate(uuid, integer, integer, uuid[], double precision, jsonb)
    from public;
