CREATE SCHEMA recodb;

COMMENT ON SCHEMA recodb IS 'recodb: recommender state and serving functions';

CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public;

COMMENT ON EXTENSION vector IS 'vector data type and ivfflat and hnsw access methods';

CREATE FUNCTION recodb.activate_model(p_version integer) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'recodb', 'pg_temp'
    AS $$
declare
    v_status text;
begin
    -- One switch at a time.
    perform pg_advisory_xact_lock(hashtext('recodb.activate_model'));
    select status into v_status from recodb.model where version = p_version for update;
    if v_status is null then
        raise exception 'model version % does not exist', p_version using errcode = '22023';
    end if;
    if v_status = 'active' then
        return p_version;
    end if;
    if v_status not in ('ready', 'retired') then
        raise exception 'model version % is %; only a ready or retired version can be activated',
            p_version, v_status using errcode = '22023';
    end if;
    if recodb.model_table('post', p_version) is null
       or recodb.model_table('user', p_version) is null then
        raise exception 'the vectors of model version % are gone', p_version
            using errcode = '22023';
    end if;
    update recodb.model set status = 'retired' where status = 'active';
    update recodb.model set status = 'active', activated_at = now() where version = p_version;
    return p_version;
end
$$;

COMMENT ON FUNCTION recodb.activate_model(p_version integer) IS 'Activates model version p_version (ready or retired) atomically; returns it';

CREATE FUNCTION recodb.cosine_neighbours(p_kind text, p_id uuid, p_limit integer) RETURNS TABLE(id uuid, similarity double precision)
    LANGUAGE plpgsql STABLE
    SET search_path TO 'recodb', 'public', 'pg_temp'
    SET "hnsw.iterative_scan" TO 'strict_order'
    SET "hnsw.ef_search" TO '100'
    AS $_$
declare
    v_version integer;
begin
    if p_limit is null or p_limit < 1 or p_limit > 500 then
        raise exception 'p_limit must be between 1 and 500, got %', p_limit using errcode = '22023';
    end if;
    select m.version into v_version from recodb.model m where m.status = 'active';
    if v_version is null or p_id is null then
        return;
    end if;
    return query execute format(
        $q$
        select n.id, greatest(0, 1 - n.distance)::float8
        from (select v.cf from %1$s v where v.%2$I = $1) q,
             lateral (select v.%2$I as id, v.cf <=> q.cf as distance
                      from %1$s v
                      where v.cf is not null
                      order by v.cf <=> q.cf
                      limit $2 + 1) n
        where n.id <> $1 and q.cf is not null
        order by n.distance, n.id
        limit $2
        $q$,
        recodb.model_table_name(p_kind, v_version), p_kind || '_id')
    using p_id, p_limit;
end
$_$;

COMMENT ON FUNCTION recodb.cosine_neighbours(p_kind text, p_id uuid, p_limit integer) IS 'Internal: nearest posts or users of the active model by cosine, (id, similarity in [0, 1])';

CREATE FUNCTION recodb.create_model_tables(p_version integer, p_factors integer, p_content_dims integer) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
    v_content text := case when p_content_dims > 0
                           then format('public.vector(%s)', p_content_dims)
                           else 'public.vector' end;
begin
    if p_factors is null or p_factors < 1 then
        raise exception 'p_factors must be >= 1, got %', p_factors using errcode = '22023';
    end if;
    execute format('create table %s (post_id uuid not null, cf public.vector(%s), content %s)',
                   recodb.model_table_name('post', p_version), p_factors, v_content);
    execute format('create table %s (user_id uuid not null, cf public.vector(%s) not null, '
                   'content %s)',
                   recodb.model_table_name('user', p_version), p_factors, v_content);
end
$$;

COMMENT ON FUNCTION recodb.create_model_tables(p_version integer, p_factors integer, p_content_dims integer) IS 'Internal: creates the empty post and user vector tables of model version p_version';

CREATE FUNCTION recodb.decay(p_age_seconds double precision, p_half_life_seconds double precision) RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    select case when p_half_life_seconds is null or p_half_life_seconds <= 0 then 1
                else pg_catalog.power(0.5, least(greatest(coalesce(p_age_seconds, 0), 0)
                                                 / p_half_life_seconds, 1000)) end
$$;

COMMENT ON FUNCTION recodb.decay(p_age_seconds double precision, p_half_life_seconds double precision) IS 'Internal: 0.5 ^ (age / half-life), clamped to [9.3e-302, 1] for any age';

CREATE FUNCTION recodb.drop_model_tables(p_version integer) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
    execute format('drop table if exists %s, %s', recodb.model_table_name('post', p_version),
                   recodb.model_table_name('user', p_version));
end
$$;

COMMENT ON FUNCTION recodb.drop_model_tables(p_version integer) IS 'Internal: drops model version p_version''s vector tables, if they exist';

CREATE FUNCTION recodb.fill_slate(p_user_id uuid, p_version integer, p_count integer, p_exclude uuid[], p_ceiling double precision, p_settings jsonb) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'recodb', 'public', 'pg_temp'
    SET "hnsw.ef_search" TO '60'
    SET "hnsw.iterative_scan" TO 'relaxed_order'
    AS $_$
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
$_$;

COMMENT ON FUNCTION recodb.fill_slate(p_user_id uuid, p_version integer, p_count integer, p_exclude uuid[], p_ceiling double precision, p_settings jsonb) IS 'Internal to recommend(): adds up to p_count scored posts to a user''s slate';

CREATE FUNCTION recodb.index_model_table(p_version integer, p_step text) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET maintenance_work_mem TO '2GB'
    SET max_parallel_maintenance_workers TO '1'
    AS $$
declare
    v_posts text := recodb.model_table_name('post', p_version);
    v_users text := recodb.model_table_name('user', p_version);
    v_name text := 'v' || p_version;
begin
    case p_step
    when 'post keys' then
        execute format('alter table %s add primary key (post_id)', v_posts);
    when 'user keys' then
        execute format('alter table %s add primary key (user_id)', v_users);
    when 'HNSW post inner product' then
        execute format('create index %I on %s using hnsw (cf public.vector_ip_ops)',
                       'post_vector_' || v_name || '_cf_ip', v_posts);
    when 'HNSW post cosine' then
        execute format('create index %I on %s using hnsw (cf public.vector_cosine_ops)',
                       'post_vector_' || v_name || '_cf_cos', v_posts);
    when 'HNSW post content' then
        if (select a.atttypmod <= 0 from pg_attribute a
            where a.attrelid = v_posts::regclass and a.attname = 'content') then
            return false;  -- no text vectors in this version
        end if;
        execute format('create index %I on %s using hnsw (content public.vector_cosine_ops)',
                       'post_vector_' || v_name || '_content_cos', v_posts);
    when 'HNSW user cosine' then
        execute format('create index %I on %s using hnsw (cf public.vector_cosine_ops)',
                       'user_vector_' || v_name || '_cf_cos', v_users);
    when 'analyze' then
        execute format('analyze %s', v_posts);
        execute format('analyze %s', v_users);
    else
        raise exception 'unknown index step %', p_step using errcode = '22023';
    end case;
    return true;
end
$$;

COMMENT ON FUNCTION recodb.index_model_table(p_version integer, p_step text) IS 'Internal: builds one of model_index_steps() on model version p_version''s tables; false when the step does not apply (no text vectors)';

CREATE FUNCTION recodb.model_index_steps() RETURNS TABLE(step text)
    LANGUAGE sql IMMUTABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select unnest(array['post keys', 'user keys', 'HNSW post inner product', 'HNSW post cosine',
                        'HNSW post content', 'HNSW user cosine', 'analyze'])
$$;

COMMENT ON FUNCTION recodb.model_index_steps() IS 'Internal: the steps of index_model_table(), in order';

CREATE FUNCTION recodb.model_table(p_kind text, p_version integer) RETURNS regclass
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select to_regclass(recodb.model_table_name(p_kind, p_version))
$$;

COMMENT ON FUNCTION recodb.model_table(p_kind text, p_version integer) IS 'Internal: a model version''s post or user vector table, or null when it does not exist';

CREATE FUNCTION recodb.model_table_name(p_kind text, p_version integer) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
    if p_kind is null or p_kind not in ('post', 'user') then
        raise exception 'p_kind must be post or user, got %', coalesce(p_kind, 'null')
            using errcode = '22023';
    end if;
    return format('recodb.%I', p_kind || '_vector_v' || p_version);
end
$$;

COMMENT ON FUNCTION recodb.model_table_name(p_kind text, p_version integer) IS 'Internal: the qualified name of a model version''s post or user vector table';

CREATE FUNCTION recodb.prune_models(p_keep integer DEFAULT NULL::integer) RETURNS integer[]
    LANGUAGE plpgsql
    SET search_path TO 'recodb', 'pg_temp'
    AS $$
declare
    v_keep integer := coalesce(p_keep, (recodb.setting_value('keep_model_versions'))::integer);
    v_version integer;
    v_removed integer[] := '{}';
begin
    if v_keep is null or v_keep < 0 then
        raise exception 'p_keep must be >= 0, got %', v_keep using errcode = '22023';
    end if;
    perform pg_advisory_xact_lock(hashtext('recodb.activate_model'));
    for v_version in
        select version from recodb.model
        where status in ('ready', 'retired')
        order by version desc
        offset v_keep
    loop
        perform recodb.drop_model_tables(v_version);
        delete from recodb.model where version = v_version;
        v_removed := v_removed || v_version;
    end loop;
    -- Failed versions have no vectors; keep as many of their rows, for the diagnosis.
    with gone as (
        delete from recodb.model
        where version in (select version from recodb.model where status = 'failed'
                          order by version desc offset v_keep)
        returning version
    )
    select v_removed || coalesce(array_agg(version order by version), '{}') into v_removed
    from gone;
    return v_removed;
end
$$;

COMMENT ON FUNCTION recodb.prune_models(p_keep integer) IS 'Removes model versions beyond the newest p_keep inactive ones; returns their numbers';

CREATE FUNCTION recodb.recommend(p_user_id uuid, p_limit integer DEFAULT 50, p_offset integer DEFAULT 0, p_exclude_seen boolean DEFAULT true) RETURNS TABLE(post_id uuid, score double precision, reason text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'recodb', 'public', 'pg_temp'
    AS $$
declare
    v_settings jsonb;
    v_version integer;
    v_stored integer := 0;
    v_wanted integer;
    v_exclude uuid[] := '{}';
    v_ceiling double precision := 1;
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

    if not exists (select from users u where u.id = p_user_id) then
        raise exception 'unknown user %', p_user_id using errcode = '22023';
    end if;

    if p_offset > 0 then
        select count(*) into v_stored
        from user_recommendation r
        where r.user_id = p_user_id and r.expires_at > now();
    end if;
    -- A feed session holds at most 500 posts; a page within the stored slate is one index scan.
    v_wanted := least(500, p_offset + p_limit);
    if p_offset = 0 or v_stored = 0 or (v_stored < v_wanted and v_stored < 500) then
        select jsonb_object_agg(s.key, s.value) into v_settings from recodb.setting s;
        select m.version into v_version from recodb.model m where m.status = 'active';
        if p_exclude_seen then
            select coalesce(array_agg(distinct i.post_id), '{}') into v_exclude
            from user_interaction i where i.user_id = p_user_id;
        end if;
        -- One slate per user at a time.
        perform pg_advisory_xact_lock(hashtextextended(p_user_id::text, 7));
        if p_offset = 0 or v_stored = 0 then
            -- A new slate.
            delete from user_recommendation r where r.user_id = p_user_id;
            v_wanted := greatest((v_settings ->> 'slate_size')::integer, v_wanted);
        else
            -- Continue the slate: the next posts rank after every post already in it.
            delete from user_recommendation r where r.user_id = p_user_id and r.expires_at <= now();
            select coalesce(v_exclude || array_agg(r.post_id), v_exclude), min(r.score)
            into v_exclude, v_ceiling
            from user_recommendation r where r.user_id = p_user_id;
            v_ceiling := v_ceiling * (1 - 1e-9);
            v_wanted := least(500, greatest((v_settings ->> 'slate_size')::integer, v_wanted))
                        - v_stored;
        end if;
        perform recodb.fill_slate(p_user_id, v_version, v_wanted, v_exclude, v_ceiling,
                                  v_settings);
    end if;

    return query
    select r.post_id, r.score, r.reason
    from user_recommendation r
    where r.user_id = p_user_id and r.expires_at > now()
    order by r.score desc, r.post_id
    limit p_limit offset p_offset;
end
$$;

COMMENT ON FUNCTION recodb.recommend(p_user_id uuid, p_limit integer, p_offset integer, p_exclude_seen boolean) IS 'The feed of p_user_id: (post_id, score in [0, 1], reason), best first, ties by post_id. Offset 0 computes and stores a slate; later offsets page through it, extending it as needed';

CREATE FUNCTION recodb.refresh() RETURNS TABLE(step text, seconds double precision)
    LANGUAGE plpgsql
    SET search_path TO 'recodb', 'public', 'pg_temp'
    AS $$
declare
    v_started timestamptz;
    v_view text;
begin
    perform pg_advisory_xact_lock(hashtext('recodb.refresh'));
    -- In this order: author_popularity reads post_engagement, fresh_post author_popularity.
    foreach v_view in array array['post_engagement', 'trending_post', 'author_popularity',
                                  'fresh_post', 'user_recent_likes'] loop
        v_started := clock_timestamp();
        execute format('refresh materialized view concurrently recodb.%I', v_view);
        step := v_view;
        seconds := extract(epoch from clock_timestamp() - v_started);
        return next;
    end loop;

    v_started := clock_timestamp();
    delete from user_recommendation where expires_at <= now();
    step := 'expired slates';
    seconds := extract(epoch from clock_timestamp() - v_started);
    return next;
end
$$;

COMMENT ON FUNCTION recodb.refresh() IS 'Refreshes the engagement views concurrently (post_engagement, trending_post, author_popularity, fresh_post, user_recent_likes) and deletes expired user_recommendation rows; returns (step, seconds)';

CREATE FUNCTION recodb.rollback_model() RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'recodb', 'pg_temp'
    AS $$
declare
    v_previous integer;
begin
    perform pg_advisory_xact_lock(hashtext('recodb.activate_model'));
    select version into v_previous
    from recodb.model
    where status = 'retired' and activated_at is not null
    order by activated_at desc, version desc
    limit 1;
    if v_previous is null then
        raise exception 'there is no previously active model version to roll back to'
            using errcode = '22023';
    end if;
    return recodb.activate_model(v_previous);
end
$$;

COMMENT ON FUNCTION recodb.rollback_model() IS 'Re-activates the most recently active retired model version; returns it';

CREATE FUNCTION recodb.serving_status() RETURNS TABLE(model_version integer, model_trained_to timestamp with time zone, model_activated_at timestamp with time zone)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'recodb', 'pg_temp'
    AS $$
    select m.version, m.trained_to, m.activated_at
    from recodb.model m
    where m.status = 'active'
$$;

COMMENT ON FUNCTION recodb.serving_status() IS 'The active model: (model_version, model_trained_to, model_activated_at); no row when none';

CREATE FUNCTION recodb.setting_validate() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'recodb', 'pg_temp'
    AS $$
declare
    v_key text;
begin
    if new.kind is null then
        raise exception 'unknown setting %: a new setting needs a kind (weights, positive, whole)',
            new.key using errcode = '22023';
    end if;
    if new.kind = 'weights' then
        if jsonb_typeof(new.value) <> 'object' then
            raise exception 'setting %: expected a JSON object', new.key using errcode = '22023';
        end if;
        if tg_op = 'UPDATE' and (select array_agg(k order by k) from jsonb_object_keys(new.value) k)
                is distinct from (select array_agg(k order by k) from jsonb_object_keys(old.value) k)
        then
            raise exception 'setting %: expected exactly the keys %, got %', new.key,
                (select array_agg(k order by k) from jsonb_object_keys(old.value) k),
                (select array_agg(k order by k) from jsonb_object_keys(new.value) k)
                using errcode = '22023';
        end if;
        for v_key in select jsonb_object_keys(new.value) loop
            if jsonb_typeof(new.value -> v_key) <> 'number' or (new.value ->> v_key)::numeric < 0 then
                raise exception 'setting %: % must be a number >= 0, got %',
                    new.key, v_key, new.value -> v_key using errcode = '22023';
            end if;
        end loop;
        if (select sum(value::numeric) from jsonb_each_text(new.value)) = 0 then
            raise exception 'setting %: the weights must not all be 0', new.key
                using errcode = '22023';
        end if;
    elsif jsonb_typeof(new.value) <> 'number' then
        raise exception 'setting %: expected a number, got %', new.key, new.value
            using errcode = '22023';
    elsif new.kind = 'positive' and new.value::numeric <= 0 then
        raise exception 'setting %: expected a number > 0, got %', new.key, new.value
            using errcode = '22023';
    elsif new.kind = 'whole'
          and (new.value::numeric < 1 or new.value::numeric <> trunc(new.value::numeric)) then
        raise exception 'setting %: expected a whole number >= 1, got %', new.key, new.value
            using errcode = '22023';
    end if;
    new.updated_at := now();
    return new;
end
$$;

COMMENT ON FUNCTION recodb.setting_validate() IS 'Trigger: validates recodb.setting values by kind; raises 22023 on a malformed value';

CREATE FUNCTION recodb.setting_value(p_key text) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO 'recodb', 'pg_temp'
    AS $$
    select value from recodb.setting where key = p_key
$$;

COMMENT ON FUNCTION recodb.setting_value(p_key text) IS 'The jsonb value of setting p_key, or null when there is no such setting';

CREATE FUNCTION recodb.similar_posts(p_post_id uuid, p_limit integer DEFAULT 20) RETURNS TABLE(post_id uuid, similarity double precision)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'recodb', 'public', 'pg_temp'
    AS $$
    select n.id, n.similarity from recodb.cosine_neighbours('post', p_post_id, p_limit) n
$$;

COMMENT ON FUNCTION recodb.similar_posts(p_post_id uuid, p_limit integer) IS 'Up to p_limit posts nearest to p_post_id by cosine of collaborative vectors: (post_id, similarity in [0, 1]), best first, ties by post_id';

CREATE FUNCTION recodb.similar_users(p_user_id uuid, p_limit integer DEFAULT 20) RETURNS TABLE(user_id uuid, similarity double precision)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'recodb', 'public', 'pg_temp'
    AS $$
    select n.id, n.similarity from recodb.cosine_neighbours('user', p_user_id, p_limit) n
$$;

COMMENT ON FUNCTION recodb.similar_users(p_user_id uuid, p_limit integer) IS 'Up to p_limit users nearest to p_user_id by cosine of collaborative vectors: (user_id, similarity in [0, 1]), best first, ties by user_id';

CREATE FUNCTION recodb.track_interaction(p_user_id uuid, p_post_id uuid, p_type text, p_metadata jsonb DEFAULT NULL::jsonb) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'recodb', 'public', 'pg_temp'
    AS $$
declare
    v_id uuid;
begin
    if p_user_id is null then
        raise exception 'p_user_id must not be null' using errcode = '22023';
    end if;
    if p_post_id is null then
        raise exception 'p_post_id must not be null' using errcode = '22023';
    end if;
    if p_type is null or p_type not in ('view', 'click', 'like', 'comment', 'share') then
        raise exception 'p_type must be one of view, click, like, comment, share; got %',
            coalesce(quote_literal(p_type), 'null') using errcode = '22023';
    end if;
    if p_metadata is not null and jsonb_typeof(p_metadata) <> 'object' then
        raise exception 'p_metadata must be a JSON object, got %', jsonb_typeof(p_metadata)
            using errcode = '22023';
    end if;
    if not exists (select from users where id = p_user_id) then
        raise exception 'unknown user %', p_user_id using errcode = '22023';
    end if;
    if not exists (select from posts where id = p_post_id) then
        raise exception 'unknown post %', p_post_id using errcode = '22023';
    end if;
    insert into user_interaction (user_id, post_id, interaction_type, metadata)
    values (p_user_id, p_post_id, p_type, p_metadata)
    returning id into v_id;
    return v_id;
end
$$;

COMMENT ON FUNCTION recodb.track_interaction(p_user_id uuid, p_post_id uuid, p_type text, p_metadata jsonb) IS 'Records one interaction (view, click, like, comment, share); returns its id';

CREATE FUNCTION recodb.trending(p_limit integer DEFAULT 50, p_offset integer DEFAULT 0) RETURNS TABLE(post_id uuid, score double precision)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'recodb', 'public', 'pg_temp'
    AS $$
begin
    if p_limit is null or p_limit < 1 or p_limit > 500 then
        raise exception 'p_limit must be between 1 and 500, got %', p_limit using errcode = '22023';
    end if;
    if p_offset is null or p_offset < 0 then
        raise exception 'p_offset must be >= 0, got %', p_offset using errcode = '22023';
    end if;
    return query
    select t.post_id, t.velocity / top.velocity
    from recodb.trending_post t,
         (select velocity from recodb.trending_post order by velocity desc limit 1) top
    where top.velocity > 0
    order by t.velocity desc, t.post_id
    limit p_limit offset p_offset;
end
$$;

COMMENT ON FUNCTION recodb.trending(p_limit integer, p_offset integer) IS 'Trending posts: (post_id, score in (0, 1]) by engagement velocity as of the last refresh, best first, ties by post_id';

CREATE TABLE public.follows (
    follower_id uuid NOT NULL,
    followee_id uuid NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT follows_check CHECK ((follower_id <> followee_id))
);

CREATE TABLE public.posts (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    author_id uuid,
    content text,
    external_id text,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.recodb_alembic_version (
    version_num character varying(32) NOT NULL
);

CREATE TABLE public.user_interaction (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    post_id uuid NOT NULL,
    interaction_type character varying(50) NOT NULL,
    metadata jsonb,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT user_interaction_type_check CHECK (((interaction_type)::text = ANY ((ARRAY['view'::character varying, 'click'::character varying, 'like'::character varying, 'comment'::character varying, 'share'::character varying])::text[])))
);

CREATE TABLE public.user_recommendation (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    post_id uuid NOT NULL,
    score double precision NOT NULL,
    generated_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    reason text,
    model_version integer
);

CREATE TABLE public.users (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    username text NOT NULL,
    external_id text,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE recodb.setting (
    key text NOT NULL,
    value jsonb NOT NULL,
    description text NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    kind text NOT NULL,
    CONSTRAINT setting_kind_check CHECK ((kind = ANY (ARRAY['weights'::text, 'positive'::text, 'whole'::text])))
);

COMMENT ON TABLE recodb.setting IS 'Tunable behaviour as data; values are validated by recodb.setting_validate()';

CREATE MATERIALIZED VIEW recodb.post_engagement AS
 SELECT i.post_id,
    count(*) FILTER (WHERE ((i.interaction_type)::text = 'view'::text)) AS views,
    count(*) FILTER (WHERE ((i.interaction_type)::text = 'click'::text)) AS clicks,
    count(*) FILTER (WHERE ((i.interaction_type)::text = 'like'::text)) AS likes,
    count(*) FILTER (WHERE ((i.interaction_type)::text = 'comment'::text)) AS comments,
    count(*) FILTER (WHERE ((i.interaction_type)::text = 'share'::text)) AS shares,
    sum(((w.value ->> (i.interaction_type)::text))::double precision) AS engagement,
    max(i.created_at) AS last_interaction_at
   FROM (public.user_interaction i
     CROSS JOIN ( SELECT setting.value
           FROM recodb.setting
          WHERE (setting.key = 'interaction_weights'::text)) w)
  GROUP BY i.post_id
  WITH NO DATA;

COMMENT ON MATERIALIZED VIEW recodb.post_engagement IS 'Per post: interaction counts and type-weighted engagement (refreshed by recodb.refresh())';

CREATE MATERIALIZED VIEW recodb.author_popularity AS
 SELECT a.author_id,
    COALESCE(f.followers, (0)::bigint) AS followers,
    COALESCE(e.engagement, (0)::double precision) AS engagement,
    (ln(((1 + COALESCE(f.followers, (0)::bigint)))::double precision) + ln(((1)::double precision + COALESCE(e.engagement, (0)::double precision)))) AS popularity
   FROM ((( SELECT DISTINCT posts.author_id
           FROM public.posts
          WHERE (posts.author_id IS NOT NULL)) a
     LEFT JOIN ( SELECT follows.followee_id,
            count(*) AS followers
           FROM public.follows
          GROUP BY follows.followee_id) f ON ((f.followee_id = a.author_id)))
     LEFT JOIN ( SELECT p.author_id,
            sum(pe.engagement) AS engagement
           FROM (recodb.post_engagement pe
             JOIN public.posts p ON ((p.id = pe.post_id)))
          GROUP BY p.author_id) e ON ((e.author_id = a.author_id)))
  WITH NO DATA;

COMMENT ON MATERIALIZED VIEW recodb.author_popularity IS 'Per author: followers, engagement on their posts, popularity = ln(1+followers) + ln(1+engagement)';

CREATE TABLE recodb.model (
    version integer NOT NULL,
    algorithm text NOT NULL,
    params jsonb DEFAULT '{}'::jsonb NOT NULL,
    status text DEFAULT 'training'::text NOT NULL,
    trained_from timestamp with time zone,
    trained_to timestamp with time zone,
    n_users integer,
    n_posts integer,
    n_interactions bigint,
    metrics jsonb DEFAULT '{}'::jsonb NOT NULL,
    timings jsonb DEFAULT '{}'::jsonb NOT NULL,
    error text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    activated_at timestamp with time zone,
    factors integer,
    content_dims integer,
    fold_in real[],
    tuning jsonb,
    CONSTRAINT model_status_check CHECK ((status = ANY (ARRAY['training'::text, 'ready'::text, 'active'::text, 'retired'::text, 'failed'::text])))
);

COMMENT ON TABLE recodb.model IS 'Model registry: one row per trained version; at most one is active';

COMMENT ON COLUMN recodb.model.fold_in IS 'Row-major inverse of (Y''Y + regularization * I) over the post vectors Y: folds a new user''s interactions into a vector without retraining';

COMMENT ON COLUMN recodb.model.tuning IS 'The hyperparameter search that chose params (recodb train --tune), if any';

CREATE MATERIALIZED VIEW recodb.fresh_post AS
 SELECT p.id AS post_id,
    p.author_id,
    p.created_at,
    a.popularity
   FROM (public.posts p
     JOIN recodb.author_popularity a ON ((a.author_id = p.author_id)))
  WHERE (p.created_at > LEAST(( SELECT m.trained_to
           FROM recodb.model m
          WHERE (m.status = 'active'::text)), (now() - make_interval(hours => ( SELECT (setting.value)::integer AS value
           FROM recodb.setting
          WHERE (setting.key = 'fresh_post_hours'::text))))))
  WITH NO DATA;

COMMENT ON MATERIALIZED VIEW recodb.fresh_post IS 'Posts newer than the active model or than fresh_post_hours (whichever reaches further), with their author''s popularity (fresh candidates in recommend())';

CREATE TABLE recodb.installed_object (
    kind text NOT NULL,
    name text NOT NULL,
    installed_at timestamp with time zone DEFAULT now() NOT NULL
);

COMMENT ON TABLE recodb.installed_object IS 'Objects outside schema recodb that recodb created; downgrade removes only these';

ALTER TABLE recodb.model ALTER COLUMN version ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME recodb.model_version_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE recodb.synthetic_dataset (
    id boolean DEFAULT true NOT NULL,
    params jsonb NOT NULL,
    topics text[] NOT NULL,
    generated_at timestamp with time zone NOT NULL,
    CONSTRAINT synthetic_dataset_id_check CHECK (id)
);

COMMENT ON TABLE recodb.synthetic_dataset IS 'Ground truth of generated data (recodb generate/seed), for the evaluation oracle';

CREATE TABLE recodb.synthetic_post (
    post_id uuid NOT NULL,
    topic smallint NOT NULL,
    quality real NOT NULL
);

CREATE TABLE recodb.synthetic_user (
    user_id uuid NOT NULL,
    topic_weights real[] NOT NULL,
    activity real NOT NULL
);

CREATE MATERIALIZED VIEW recodb.trending_post AS
 WITH s AS (
         SELECT ( SELECT setting.value
                   FROM recodb.setting
                  WHERE (setting.key = 'interaction_weights'::text)) AS weights,
            ( SELECT (setting.value)::double precision AS value
                   FROM recodb.setting
                  WHERE (setting.key = 'trending_half_life_hours'::text)) AS half_life,
            ( SELECT (setting.value)::double precision AS value
                   FROM recodb.setting
                  WHERE (setting.key = 'trending_window_hours'::text)) AS window_hours
        )
 SELECT i.post_id,
    sum((((s.weights ->> (i.interaction_type)::text))::double precision * exp(((((ln(0.5) * EXTRACT(epoch FROM (now() - i.created_at))) / 3600.0))::double precision / s.half_life)))) AS velocity
   FROM public.user_interaction i,
    s
  WHERE (i.created_at > (now() - make_interval(hours => (s.window_hours)::integer)))
  GROUP BY i.post_id
  WITH NO DATA;

COMMENT ON MATERIALIZED VIEW recodb.trending_post IS 'Engagement velocity: type-weighted interactions of the trending window, each halved every trending_half_life_hours of age at refresh time';

CREATE MATERIALIZED VIEW recodb.user_recent_likes AS
 SELECT user_id,
    array_agg(post_id ORDER BY created_at DESC, post_id) AS post_ids
   FROM ( SELECT i.user_id,
            i.post_id,
            i.created_at,
            row_number() OVER (PARTITION BY i.user_id ORDER BY i.created_at DESC, i.post_id) AS nth
           FROM public.user_interaction i
          WHERE ((i.interaction_type)::text = ANY ((ARRAY['like'::character varying, 'comment'::character varying, 'share'::character varying])::text[]))) r
  WHERE (nth <= 20)
  GROUP BY user_id
  WITH NO DATA;

COMMENT ON MATERIALIZED VIEW recodb.user_recent_likes IS 'Per user: the 20 posts they most recently liked, commented on or shared (neighbour candidates in recommend())';

ALTER TABLE ONLY public.follows
    ADD CONSTRAINT follows_pkey PRIMARY KEY (follower_id, followee_id);

ALTER TABLE ONLY public.posts
    ADD CONSTRAINT posts_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.recodb_alembic_version
    ADD CONSTRAINT recodb_alembic_version_pkc PRIMARY KEY (version_num);

ALTER TABLE ONLY public.user_interaction
    ADD CONSTRAINT user_interaction_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.user_recommendation
    ADD CONSTRAINT user_recommendation_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.user_recommendation
    ADD CONSTRAINT user_recommendation_user_id_post_id_key UNIQUE (user_id, post_id);

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);

ALTER TABLE ONLY recodb.installed_object
    ADD CONSTRAINT installed_object_pkey PRIMARY KEY (kind, name);

ALTER TABLE ONLY recodb.model
    ADD CONSTRAINT model_pkey PRIMARY KEY (version);

ALTER TABLE ONLY recodb.setting
    ADD CONSTRAINT setting_pkey PRIMARY KEY (key);

ALTER TABLE ONLY recodb.synthetic_dataset
    ADD CONSTRAINT synthetic_dataset_pkey PRIMARY KEY (id);

ALTER TABLE ONLY recodb.synthetic_post
    ADD CONSTRAINT synthetic_post_pkey PRIMARY KEY (post_id);

ALTER TABLE ONLY recodb.synthetic_user
    ADD CONSTRAINT synthetic_user_pkey PRIMARY KEY (user_id);

CREATE INDEX follows_followee_idx ON public.follows USING btree (followee_id);

CREATE INDEX idx_user_interaction_post ON public.user_interaction USING btree (post_id, created_at);

CREATE INDEX idx_user_interaction_time ON public.user_interaction USING btree (created_at);

CREATE INDEX idx_user_interaction_user ON public.user_interaction USING btree (user_id, created_at);

CREATE INDEX idx_user_reco_cleanup ON public.user_recommendation USING btree (expires_at);

CREATE INDEX idx_user_reco_expires ON public.user_recommendation USING btree (user_id, expires_at);

CREATE INDEX idx_user_reco_user_score ON public.user_recommendation USING btree (user_id, score DESC);

CREATE INDEX posts_author_created_idx ON public.posts USING btree (author_id, created_at DESC);

CREATE INDEX posts_created_idx ON public.posts USING btree (created_at DESC);

CREATE UNIQUE INDEX posts_external_id_key ON public.posts USING btree (external_id);

CREATE UNIQUE INDEX users_external_id_key ON public.users USING btree (external_id);

CREATE UNIQUE INDEX author_popularity_author_id ON recodb.author_popularity USING btree (author_id);

CREATE INDEX author_popularity_popularity ON recodb.author_popularity USING btree (popularity DESC, author_id);

CREATE INDEX fresh_post_popularity ON recodb.fresh_post USING btree (popularity DESC, created_at DESC, post_id);

CREATE UNIQUE INDEX fresh_post_post_id ON recodb.fresh_post USING btree (post_id);

CREATE UNIQUE INDEX model_single_active ON recodb.model USING btree ((true)) WHERE (status = 'active'::text);

CREATE UNIQUE INDEX post_engagement_post_id ON recodb.post_engagement USING btree (post_id);

CREATE UNIQUE INDEX trending_post_post_id ON recodb.trending_post USING btree (post_id);

CREATE INDEX trending_post_velocity ON recodb.trending_post USING btree (velocity DESC, post_id);

CREATE UNIQUE INDEX user_recent_likes_user_id ON recodb.user_recent_likes USING btree (user_id);

CREATE TRIGGER setting_validate BEFORE INSERT OR UPDATE ON recodb.setting FOR EACH ROW EXECUTE FUNCTION recodb.setting_validate();

ALTER TABLE ONLY public.follows
    ADD CONSTRAINT follows_followee_id_fkey FOREIGN KEY (followee_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.follows
    ADD CONSTRAINT follows_follower_id_fkey FOREIGN KEY (follower_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.posts
    ADD CONSTRAINT posts_author_id_fkey FOREIGN KEY (author_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.user_interaction
    ADD CONSTRAINT user_interaction_post_id_fkey FOREIGN KEY (post_id) REFERENCES public.posts(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.user_interaction
    ADD CONSTRAINT user_interaction_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.user_recommendation
    ADD CONSTRAINT user_recommendation_post_id_fkey FOREIGN KEY (post_id) REFERENCES public.posts(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.user_recommendation
    ADD CONSTRAINT user_recommendation_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY recodb.synthetic_post
    ADD CONSTRAINT synthetic_post_post_id_fkey FOREIGN KEY (post_id) REFERENCES public.posts(id) ON DELETE CASCADE;

ALTER TABLE ONLY recodb.synthetic_user
    ADD CONSTRAINT synthetic_user_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

GRANT USAGE ON SCHEMA recodb TO recodb_feed_reader;
GRANT USAGE ON SCHEMA recodb TO recodb_tracker;

REVOKE ALL ON FUNCTION recodb.activate_model(p_version integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.cosine_neighbours(p_kind text, p_id uuid, p_limit integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.create_model_tables(p_version integer, p_factors integer, p_content_dims integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.decay(p_age_seconds double precision, p_half_life_seconds double precision) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.drop_model_tables(p_version integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.fill_slate(p_user_id uuid, p_version integer, p_count integer, p_exclude uuid[], p_ceiling double precision, p_settings jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.index_model_table(p_version integer, p_step text) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.model_index_steps() FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.model_table(p_kind text, p_version integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.model_table_name(p_kind text, p_version integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.prune_models(p_keep integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.recommend(p_user_id uuid, p_limit integer, p_offset integer, p_exclude_seen boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION recodb.recommend(p_user_id uuid, p_limit integer, p_offset integer, p_exclude_seen boolean) TO recodb_feed_reader;
GRANT ALL ON FUNCTION recodb.recommend(p_user_id uuid, p_limit integer, p_offset integer, p_exclude_seen boolean) TO recodb_tracker;

REVOKE ALL ON FUNCTION recodb.refresh() FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.rollback_model() FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.serving_status() FROM PUBLIC;
GRANT ALL ON FUNCTION recodb.serving_status() TO recodb_feed_reader;
GRANT ALL ON FUNCTION recodb.serving_status() TO recodb_tracker;

REVOKE ALL ON FUNCTION recodb.setting_validate() FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.setting_value(p_key text) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.similar_posts(p_post_id uuid, p_limit integer) FROM PUBLIC;
GRANT ALL ON FUNCTION recodb.similar_posts(p_post_id uuid, p_limit integer) TO recodb_feed_reader;
GRANT ALL ON FUNCTION recodb.similar_posts(p_post_id uuid, p_limit integer) TO recodb_tracker;

REVOKE ALL ON FUNCTION recodb.similar_users(p_user_id uuid, p_limit integer) FROM PUBLIC;
GRANT ALL ON FUNCTION recodb.similar_users(p_user_id uuid, p_limit integer) TO recodb_feed_reader;
GRANT ALL ON FUNCTION recodb.similar_users(p_user_id uuid, p_limit integer) TO recodb_tracker;

REVOKE ALL ON FUNCTION recodb.track_interaction(p_user_id uuid, p_post_id uuid, p_type text, p_metadata jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION recodb.track_interaction(p_user_id uuid, p_post_id uuid, p_type text, p_metadata jsonb) TO recodb_tracker;

REVOKE ALL ON FUNCTION recodb.trending(p_limit integer, p_offset integer) FROM PUBLIC;
GRANT ALL ON FUNCTION recodb.trending(p_limit integer, p_offset integer) TO recodb_feed_reader;
GRANT ALL ON FUNCTION recodb.trending(p_limit integer, p_offset integer) TO recodb_tracker;
