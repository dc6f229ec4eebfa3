CREATE SCHEMA recodb;

COMMENT ON SCHEMA recodb IS 'recodb: recommender state and serving functions';

CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public;

COMMENT ON EXTENSION vector IS 'vector data type and ivfflat and hnsw access methods';

CREATE FUNCTION recodb.activate_model(p_version integer) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'recodb', 'pg_temp'
    AS $$
declare
    v_status text;
begin
    -- One switch at a time.
    perform pg_advisory_xact_lock(pg_catalog.hashtext('recodb.activate_model'));
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

CREATE FUNCTION recodb.compute_slate(p_user_id uuid, p_version integer, p_count integer, p_exclude uuid[], p_placed uuid[], p_ceiling double precision, p_settings jsonb, OUT post_ids uuid[], OUT scores double precision[], OUT reasons text[]) RETURNS record
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'recodb', 'pg_temp'
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
declare
    v_cf public.vector;
    v_content public.vector;
    v_wc double precision := (p_settings -> 'blend_weights' ->> 'collaborative')::float8;
    v_wt double precision := (p_settings -> 'blend_weights' ->> 'content')::float8;
    v_wr double precision := (p_settings -> 'blend_weights' ->> 'recency')::float8;
    v_learned jsonb;
    v_w double precision[];  -- the learned weights, in slate_parts()'s order of parts
    v_sum double precision;
    v_cap integer := (p_settings ->> 'max_posts_per_author')::integer;
    v_authors uuid[];
    v_more_ids uuid[];
    v_more_scores double precision[];
    v_more_authors uuid[];
    v_scan integer;
    v_main integer;
begin
    if p_version is not null then
        select t.cf, t.content into v_cf, v_content
        from recodb.user_taste(p_user_id, p_version, p_settings -> 'interaction_weights') t;
        if coalesce((p_settings ->> 'blend_weights_pinned')::integer, 0) = 0 then
            select m.blend -> 'weights' into v_learned from recodb.model m
            where m.version = p_version;
        end if;
    end if;
    if v_learned is not null then
        v_w := array[coalesce((v_learned ->> 'collaborative')::float8, 0),
                     coalesce((v_learned ->> 'neighbours')::float8, 0),
                     coalesce((v_learned ->> 'content')::float8, 0),
                     coalesce((v_learned ->> 'recency')::float8, 0),
                     coalesce((v_learned ->> 'trending')::float8, 0),
                     coalesce((v_learned ->> 'following')::float8, 0)];
        v_sum := v_w[1] + v_w[2] + v_w[3] + v_w[4] + v_w[5] + v_w[6];
        if not v_sum > 0 then
            v_w := null;
        end if;
    end if;
    if v_w is not null then
        -- The top-up's fresh posts score by their recency part alone, as below.
        v_wr := v_w[4];
    else
        v_sum := v_wc + v_wt + v_wr;
    end if;

    select coalesce(array_agg(c.post_id order by c.score desc, c.post_id), '{}'),
           coalesce(array_agg(c.score * p_ceiling order by c.score desc, c.post_id), '{}'),
           coalesce(array_agg(c.reason order by c.score desc, c.post_id), '{}'),
           coalesce(array_agg(c.author_id order by c.score desc, c.post_id), '{}')
    into post_ids, scores, reasons, v_authors
    from (
        select s.post_id, s.author_id, s.score, s.reason
        from (
            select b.*, row_number() over (partition by b.author_id
                                           order by b.score desc, b.post_id) as nth
            from (
                select x.post_id, x.author_id,
                       (array['collaborative_filtering', 'following', 'content', 'fresh',
                              'trending'])[x.source] as reason,
                       case when v_w is not null then
                           (v_w[1] * case when v_cf is null then x.trending
                                          else x.collaborative end
                            + v_w[2] * x.neighbours
                            + v_w[3] * x.content + v_w[4] * x.recency + v_w[5] * x.trending
                            + v_w[6] * x.following) / v_sum
                       else
                           (v_wc * case when v_cf is null then x.trending
                                        else greatest(x.collaborative, x.neighbours,
                                                      case when x.source = 2 then 0.5 else 0 end)
                                   end
                            + v_wt * x.content + v_wr * x.recency) / v_sum
                       end as score
                from recodb.slate_parts(p_user_id, p_version, v_cf, v_content, p_exclude,
                                        p_settings) x
            ) b
        ) s
        left join (select a.author_id, count(*) as n from unnest(p_placed) a(author_id)
                   group by a.author_id) placed on placed.author_id = s.author_id
        where s.author_id is null or s.nth + coalesce(placed.n, 0) <= v_cap
        order by s.score desc, s.post_id
        limit p_count
    ) c;

    -- Short of posts: the newest ones fill the rest. The scan widens until the slate is full
    -- or every post has been looked at (the author cap may skip many). A slate comes here
    -- when its sources run short after the cap: 800 fresh slates at 20k users × 200k posts
    -- ran 23 top-up scans (762 with 20 candidates a source instead of 30), and each scanned
    -- post costs a heap fetch. The first scan reads twice what is missing and 20 more: it read
    -- four times and 100 more, 0.53 / 0.62 ms a scan there against 0.26 / 0.22 ms now (1.12
    -- against 0.34 ms for users who saw about 1,000 posts; auto_explain durations, which add
    -- its own cost to each), and the shorter scan ran no more scans than the longer one.
    v_main := cardinality(post_ids);
    v_scan := 2 * (p_count - v_main) + 20;
    while cardinality(post_ids) < p_count loop
        select coalesce(array_agg(n.id order by n.created_at desc, n.id), '{}'),
               coalesce(array_agg(p_ceiling * v_wr
                                  * recodb.decay(date_part('epoch', now() - n.created_at),
                                                 3600 * (p_settings ->> 'recency_half_life_hours')::float8)
                                  / v_sum order by n.created_at desc, n.id), '{}'),
               coalesce(array_agg(n.author_id order by n.created_at desc, n.id), '{}')
        into v_more_ids, v_more_scores, v_more_authors
        from (
            select n.*
            from (select p.id, p.author_id, p.created_at,
                         row_number() over (partition by p.author_id
                                            order by p.created_at desc, p.id) as nth
                  from (select p.id, p.author_id, p.created_at
                        from public.posts p
                        order by p.created_at desc, p.id
                        limit v_scan) p
                  -- What the slate can't hold, hashed once (`<> all` compared each scanned
                  -- post with every one of them). Leaving them out after the limit can leave
                  -- the scan short, and then it widens like any short scan.
                  where not exists (select from unnest(p_exclude || post_ids) e(id)
                                    where e.id = p.id)) n
            left join (select a.author_id, count(*) as n
                       from unnest(p_placed || v_authors) a(author_id)
                       group by a.author_id) placed on placed.author_id = n.author_id
            where n.author_id is null or n.nth + coalesce(placed.n, 0) <= v_cap
            order by n.created_at desc, n.id
            limit p_count - cardinality(post_ids)
        ) n;
        post_ids := post_ids || v_more_ids;
        scores := scores || v_more_scores;
        reasons := reasons || array_fill('fresh'::text, array[cardinality(v_more_ids)]);
        v_authors := v_authors || v_more_authors;
        exit when cardinality(post_ids) >= p_count;  -- full: no need to count the posts
        exit when v_scan >= (select count(*) from public.posts);
        v_scan := v_scan * 4;
    end loop;
    if cardinality(post_ids) > v_main then
        -- A fresh post may outrank the weakest candidates: keep the slate sorted.
        select array_agg(x.post_id order by x.score desc, x.post_id),
               array_agg(x.score order by x.score desc, x.post_id),
               array_agg(x.reason order by x.score desc, x.post_id)
        into post_ids, scores, reasons
        from unnest(post_ids, scores, reasons) as x(post_id, score, reason);
    end if;
end
$$;

COMMENT ON FUNCTION recodb.compute_slate(p_user_id uuid, p_version integer, p_count integer, p_exclude uuid[], p_placed uuid[], p_ceiling double precision, p_settings jsonb, OUT post_ids uuid[], OUT scores double precision[], OUT reasons text[]) IS 'Internal: the next posts of a user''s slate (post_ids, scores, reasons), blended, capped per author and topped up with the newest posts';

CREATE FUNCTION recodb.cosine_neighbours(p_kind text, p_id uuid, p_limit integer) RETURNS TABLE(id uuid, similarity double precision)
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'recodb', 'pg_temp'
    SET "hnsw.iterative_scan" TO 'strict_order'
    SET "hnsw.ef_search" TO '100'
    AS $_$
declare
    v_version integer;
begin
    if p_limit is null or p_limit < 1 or p_limit > 500 then
        raise exception 'p_limit must be between 1 and 500, got %', p_limit using errcode = '22023';
    end if;
    -- Held until the transaction ends: the version's tables can't be dropped under us.
    perform pg_advisory_xact_lock_shared(pg_catalog.hashtext('recodb.model_tables'));
    select m.version into v_version from recodb.model m where m.status = 'active';
    if v_version is null or p_id is null then
        return;
    end if;
    return query execute format(
        $q$
        select n.id, greatest(0, 1 - n.distance)::float8
        from (select v.cf from %1$s v where v.%2$I = $1) q,
             lateral (select v.%2$I as id, v.cf OPERATOR(public.<=>) q.cf as distance
                      from %1$s v
                      where v.cf is not null
                      order by v.cf OPERATOR(public.<=>) q.cf
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
    -- A post's author and time ride along, so that scoring a candidate is one lookup.
    execute format('create table %s (post_id uuid not null, cf public.vector(%s), content %s, '
                   'author_id uuid, created_at timestamptz not null)',
                   recodb.model_table_name('post', p_version), p_factors, v_content);
    -- A user's nearest users (cosine, nearest first) ride along too: serving reads them
    -- instead of probing the user graph (slate_parts()).
    execute format('create table %s (user_id uuid not null, cf public.vector(%s) not null, '
                   'content %s, neighbours uuid[], neighbour_similarities real[])',
                   recodb.model_table_name('user', p_version), p_factors, v_content);
    if p_content_dims > 0 then
        -- The text model: each term's idf and its row of the SVD projection.
        execute format('create table %s (term text primary key, idf real not null, '
                       'vector public.vector(%s) not null)',
                       recodb.model_table_name('term', p_version), p_content_dims);
        if to_regrole('recodb_owner') is not null then
            execute format('grant select on %s to recodb_owner',
                           recodb.model_table_name('term', p_version));
        end if;
    end if;
    if to_regrole('recodb_owner') is not null then
        -- The serving functions run as recodb_owner (revision 0006); refresh adds new posts.
        execute format('grant select, insert, update on %s, %s to recodb_owner',
                       recodb.model_table_name('post', p_version),
                       recodb.model_table_name('user', p_version));
    end if;
    perform recodb.create_model_views(p_version);  -- what the scoring functions read
end
$$;

COMMENT ON FUNCTION recodb.create_model_tables(p_version integer, p_factors integer, p_content_dims integer) IS 'Internal: creates the empty post and user vector tables of model version p_version, and its serving views';

CREATE FUNCTION recodb.create_model_views(p_version integer) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
declare
    v_schema text := recodb.model_schema_name(p_version);
begin
    execute format('create schema if not exists %I', v_schema);
    if exists (select from pg_namespace n
               where n.nspname = v_schema
                 and (n.nspowner <> current_user::regrole
                      or exists (select from aclexplode(n.nspacl) a
                                 where a.privilege_type = 'CREATE'
                                   and a.grantee <> n.nspowner))) then
        raise exception 'schema % belongs to another role or lets others create in it; '
                        'drop it to train model version %', v_schema, p_version
            using errcode = '22023';
    end if;
    execute format('create or replace view %I.post_vector as select * from %s', v_schema,
                   recodb.model_table_name('post', p_version));
    execute format('create or replace view %I.user_vector as select * from %s', v_schema,
                   recodb.model_table_name('user', p_version));
    if to_regrole('recodb_owner') is not null then
        -- The serving functions run as recodb_owner (revision 0006).
        execute format('grant usage on schema %1$I to recodb_owner;'
                       ' grant select on %1$I.post_vector, %1$I.user_vector to recodb_owner',
                       v_schema);
    end if;
end
$_$;

COMMENT ON FUNCTION recodb.create_model_views(p_version integer) IS 'Internal: creates schema recodb_v<N> with the views post_vector and user_vector of model version p_version''s tables, which the scoring functions read';

CREATE FUNCTION recodb.decay(p_age_seconds double precision, p_half_life_seconds double precision) RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    select case when p_half_life_seconds is null or p_half_life_seconds <= 0 then 1
                else pg_catalog.power(0.5, least(greatest(coalesce(p_age_seconds, 0), 0)
                                                 / p_half_life_seconds, 64)) end
$$;

COMMENT ON FUNCTION recodb.decay(p_age_seconds double precision, p_half_life_seconds double precision) IS 'Internal: 0.5 ^ (age / half-life), clamped to [5.4e-20, 1] for any age';

CREATE FUNCTION recodb.drop_model_tables(p_version integer, p_wait_seconds double precision DEFAULT 5) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
    v_until timestamptz := clock_timestamp() + make_interval(secs => p_wait_seconds);
begin
    while not pg_try_advisory_xact_lock(pg_catalog.hashtext('recodb.model_tables')) loop
        if clock_timestamp() >= v_until then
            return false;
        end if;
        perform pg_sleep(0.02);
    end loop;
    perform recodb.drop_model_views(p_version);  -- they depend on the tables
    execute format('drop table if exists %s, %s, %s', recodb.model_table_name('post', p_version),
                   recodb.model_table_name('user', p_version),
                   recodb.model_table_name('term', p_version));
    return true;
end
$$;

COMMENT ON FUNCTION recodb.drop_model_tables(p_version integer, p_wait_seconds double precision) IS 'Internal: drops model version p_version''s vector tables once no reader uses them; false when readers held them for p_wait_seconds';

CREATE FUNCTION recodb.drop_model_views(p_version integer) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
declare
    v_schema text := recodb.model_schema_name(p_version);
begin
    if to_regnamespace(v_schema) is null then
        return;
    end if;
    execute format('drop view if exists %1$I.post_vector, %1$I.user_vector', v_schema);
    begin
        execute format('drop schema %I', v_schema);  -- restrict
    exception when dependent_objects_still_exist or insufficient_privilege then
        null;
    end;
end
$_$;

COMMENT ON FUNCTION recodb.drop_model_views(p_version integer) IS 'Internal: drops model version p_version''s serving views, and their schema when it holds nothing else';

CREATE FUNCTION recodb.engagement_change() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'recodb', 'pg_temp'
    AS $$
begin
    if tg_op = 'TRUNCATE' then
        truncate recodb.engagement, recodb.post_engagement, recodb.author_popularity,
                 recodb.user_recent_likes, recodb.trending_post;
        return null;
    end if;
    update recodb.refresh_state set full_needed = true, engagement_stale = true
    where not (full_needed and engagement_stale);
    return null;
end
$$;

COMMENT ON FUNCTION recodb.engagement_change() IS 'Trigger: marks the next refresh() full after an update, delete or truncate of interactions';

CREATE FUNCTION recodb.engagement_insert() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'recodb', 'pg_temp'
    AS $$
begin
    insert into recodb.engagement as e (post_id, user_id, interaction_type, last_at)
    select n.post_id, n.user_id, n.interaction_type, max(n.created_at)
    from new_rows n
    group by n.post_id, n.user_id, n.interaction_type
    on conflict (post_id, user_id, interaction_type) do update
        set last_at = excluded.last_at, changed_xid = pg_current_xact_id()
        where excluded.last_at > e.last_at;
    return null;
end
$$;

COMMENT ON FUNCTION recodb.engagement_insert() IS 'Trigger: keeps recodb.engagement current as interactions are inserted';

CREATE FUNCTION recodb.index_model_table(p_version integer, p_step text, p_draft boolean DEFAULT false) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET maintenance_work_mem TO '2GB'
    SET max_parallel_maintenance_workers TO '1'
    AS $$
declare
    v_posts text := recodb.model_table_name('post', p_version);
    v_users text := recodb.model_table_name('user', p_version);
    v_name text := 'v' || p_version;
    v_sparse constant text := ' with (m = 8, ef_construction = 32)';
    v_with text := case when p_draft then v_sparse else '' end;
    v_texts bigint;
begin
    case p_step
    when 'post keys' then
        execute format('alter table %s add primary key (post_id)', v_posts);
    when 'user keys' then
        execute format('alter table %s add primary key (user_id)', v_users);
    when 'HNSW post inner product' then
        execute format('create index %I on %s using hnsw (cf public.vector_ip_ops)%s',
                       'post_vector_' || v_name || '_cf_ip', v_posts, v_with);
    when 'HNSW post cosine' then
        execute format('create index %I on %s using hnsw (cf public.vector_cosine_ops)%s',
                       'post_vector_' || v_name || '_cf_cos', v_posts, v_sparse);
    when 'IVFFlat post content' then
        if (select a.atttypmod <= 0 from pg_attribute a
            where a.attrelid = v_posts::regclass and a.attname = 'content') then
            return false;  -- no text vectors in this version
        end if;
        execute format('select count(*) from %s v where v.content is not null', v_posts)
        into v_texts;
        execute format('create index %I on %s using ivfflat (content public.vector_cosine_ops)'
                       ' with (lists = %s)',
                       'post_vector_' || v_name || '_content_cos', v_posts,
                       recodb.text_lists(v_texts, p_draft));
    when 'HNSW user cosine' then
        execute format('create index %I on %s using hnsw (cf public.vector_cosine_ops)%s',
                       'user_vector_' || v_name || '_cf_cos', v_users, v_sparse);
    when 'analyze' then
        execute format('analyze %s', v_posts);
        execute format('analyze %s', v_users);
    else
        raise exception 'unknown index step %', p_step using errcode = '22023';
    end case;
    return true;
end
$$;

COMMENT ON FUNCTION recodb.index_model_table(p_version integer, p_step text, p_draft boolean) IS 'Internal: builds one of model_index_steps() on model version p_version''s tables; false when the step does not apply (no text vectors); p_draft: sparser, quicker graphs';

CREATE FUNCTION recodb.model_index_steps() RETURNS TABLE(step text)
    LANGUAGE sql IMMUTABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select unnest(array['post keys', 'user keys', 'HNSW post inner product', 'HNSW post cosine',
                        'IVFFlat post content', 'HNSW user cosine', 'analyze'])
$$;

COMMENT ON FUNCTION recodb.model_index_steps() IS 'Internal: the steps of index_model_table(), in order';

CREATE FUNCTION recodb.model_schema_name(p_version integer) RETURNS text
    LANGUAGE sql IMMUTABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select 'recodb_v' || p_version
$$;

COMMENT ON FUNCTION recodb.model_schema_name(p_version integer) IS 'Internal: the schema of model version p_version''s serving views (recodb_v<N>)';

CREATE FUNCTION recodb.model_search_path(p_version integer) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
    v_schema text := recodb.model_schema_name(p_version);
    v_missing text;
begin
    if to_regclass(format('%I.post_vector', v_schema)) is null
       or to_regclass(format('%I.user_vector', v_schema)) is null then
        select string_agg(v.name, ', ') into v_missing
        from unnest(array['post_vector', 'user_vector']) v(name)
        where to_regclass(format('%I.%I', v_schema, v.name)) is null;
        raise exception 'model version % has no serving views: lacks % in schema %',
                        p_version, v_missing, v_schema
            using errcode = '55000', hint = 'Run `recodb migrate`, or retrain.';
    end if;
    return format('pg_catalog, %I, recodb, pg_temp', v_schema);
end
$$;

COMMENT ON FUNCTION recodb.model_search_path(p_version integer) IS 'Internal: the search_path that makes model version p_version''s views post_vector and user_vector visible unqualified (an error when they are missing)';

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
    if p_kind is null or p_kind not in ('post', 'user', 'term') then
        raise exception 'p_kind must be post, user or term, got %', coalesce(p_kind, 'null')
            using errcode = '22023';
    end if;
    return format('recodb.%I', p_kind || '_vector_v' || p_version);
end
$$;

COMMENT ON FUNCTION recodb.model_table_name(p_kind text, p_version integer) IS 'Internal: the qualified name of a model version''s post, user or term vector table';

CREATE FUNCTION recodb.post_vectors(p_from xid8 DEFAULT NULL::xid8, p_upto xid8 DEFAULT NULL::xid8, p_limit integer DEFAULT 50000) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'recodb', 'pg_temp'
    AS $_$
declare
    v_model recodb.model;
    v_posts text;
    v_terms regclass;
    v_added integer := 0;
    v_folded integer := 0;
begin
    select * into v_model from recodb.model m where m.status = 'active';
    if v_model.version is null then
        return 0;
    end if;
    v_posts := recodb.model_table_name('post', v_model.version);
    v_terms := recodb.model_table('term', v_model.version);

    -- Rows for the posts the model has never seen (with a text vector when it has a text model).
    if v_terms is null then
        execute format(
            'insert into %s (post_id, cf, content, author_id, created_at)'
            ' select p.id, null, null, p.author_id, p.created_at from public.posts p'
            ' where p.created_at > $2 and not exists (select from %1$s v where v.post_id = p.id)'
            ' order by p.created_at desc, p.id limit $1', v_posts)
        using p_limit, v_model.trained_to;
    else
        execute format(
            $q$
            with new as (
                select p.id, p.content, p.author_id, p.created_at
                from public.posts p
                where p.created_at > $2 and not exists (select from %1$s v where v.post_id = p.id)
                order by p.created_at desc, p.id
                limit $1
            ), tf as (
                select n.id, m.parts[1] as term, count(*) as n
                from new n
                cross join lateral regexp_matches(lower(n.content), '\w\w+', 'g') as m(parts)
                group by n.id, m.parts[1]
            ), summed as (
                select tf.id,
                       public.sum(w.vector OPERATOR(public.*)
                                  array_fill(((1 + ln(tf.n)) * w.idf)::real,
                                             array[public.vector_dims(w.vector)])::public.vector)
                           as vector
                from tf
                join %2$s w on w.term = tf.term
                group by tf.id
            )
            insert into %1$s (post_id, cf, content, author_id, created_at)
            select n.id, null,
                   case when public.vector_norm(s.vector) > 0
                        then public.l2_normalize(s.vector) end,
                   n.author_id, n.created_at
            from new n
            left join summed s on s.id = n.id
            $q$,
            v_posts, v_terms)
        using p_limit, v_model.trained_to;
    end if;
    get diagnostics v_added = row_count;

    -- Collaborative vectors folded in from the users who engaged.
    if v_model.post_fold_in is not null or v_model.algorithm = 'bpr' then
        execute format(
            $q$
            with engaged as (
                select distinct e.post_id from recodb.engagement e
                where $7::xid8 is null or (e.first_xid >= $7 and e.first_xid < $8)
            ), target as (
                select v.post_id
                from engaged e
                join %1$s v on v.post_id = e.post_id
                where v.cf is null or v.created_at > $1
                order by v.created_at desc, v.post_id
                limit $2
            ), sums as (
                select t.post_id,
                       public.sum(u.cf OPERATOR(public.*)
                                  array_fill((1 + $3 * e.w)::real, array[$4])::public.vector)
                           as s
                from target t
                cross join lateral (
                    select i.user_id, sum(coalesce(($5 ->> i.interaction_type)::real, 0)) as w
                    from public.user_interaction i
                    where i.post_id = t.post_id
                    group by i.user_id) e
                join %2$s u on u.user_id = e.user_id
                where e.w > 0
                group by t.post_id
            ), folded as (
                select s.post_id,
                       case when $6::real[] is null then s.s
                            else (select array_agg(x.value order by x.r)
                                  from (select r.r, sum($6[r.r * $4 + c.c + 1]
                                                        * (s.s::real[])[c.c + 1]) as value
                                        from generate_series(0, $4 - 1) r(r),
                                             generate_series(0, $4 - 1) c(c)
                                        group by r.r) x)::public.vector end as cf
                from sums s
            )
            update %1$s v set cf = f.cf
            from folded f
            where v.post_id = f.post_id
            $q$,
            v_posts, recodb.model_table_name('user', v_model.version))
        using v_model.trained_to, p_limit, coalesce((v_model.params ->> 'alpha')::real, 0),
              v_model.factors, recodb.setting_value('interaction_weights'),
              v_model.post_fold_in, p_from, p_upto;
        get diagnostics v_folded = row_count;
    end if;
    return v_added + v_folded;
end
$_$;

COMMENT ON FUNCTION recodb.post_vectors(p_from xid8, p_upto xid8, p_limit integer) IS 'Internal: text vectors for posts the active model never saw, and collaborative vectors folded in from the first engagements of new posts; returns how many posts changed';

CREATE FUNCTION recodb.precompute(p_active_days double precision DEFAULT 7, p_after uuid DEFAULT NULL::uuid, p_limit integer DEFAULT 1000, p_modulus integer DEFAULT 1, p_remainder integer DEFAULT 0) RETURNS TABLE(users integer, last_user_id uuid)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'recodb', 'pg_temp'
    AS $$
declare
    v_settings jsonb;
    v_version integer;
    v_user uuid;
    v_exclude uuid[];
    v_next record;
    v_expires timestamptz;
    v_replicas boolean := pg_catalog.to_regclass('recodb.replica_slate') is not null;  -- 0009
begin
    if p_active_days is null or p_active_days <= 0 then
        raise exception 'p_active_days must be > 0, got %', p_active_days using errcode = '22023';
    end if;
    if p_limit is null or p_limit < 1 then
        raise exception 'p_limit must be >= 1, got %', p_limit using errcode = '22023';
    end if;
    if p_modulus is null or p_modulus < 1 or p_remainder is null or p_remainder < 0
       or p_remainder >= p_modulus then
        raise exception 'p_remainder must lie in 0..p_modulus - 1' using errcode = '22023';
    end if;
    perform pg_advisory_xact_lock_shared(pg_catalog.hashtext('recodb.model_tables'));
    select m.version into v_version from recodb.model m where m.status = 'active';
    select jsonb_object_agg(s.key, s.value) into v_settings from recodb.setting s;
    v_expires := now() + make_interval(secs => (v_settings ->> 'slate_ttl_seconds')::float8);
    users := 0;
    for v_user in
        select u.id
        from public.users u
        where (p_after is null or u.id > p_after)
          and abs(pg_catalog.hashtextextended(u.id::text, 0::bigint) % p_modulus) = p_remainder
          and exists (select from public.user_interaction i
                      where i.user_id = u.id
                        and i.created_at > now() - make_interval(secs => p_active_days * 86400))
          and not exists (select from recodb.slate s
                          where s.user_id = u.id and s.expires_at > now()
                            and s.model_version is not distinct from v_version)
        order by u.id
        limit p_limit
    loop
        last_user_id := v_user;
        continue when not pg_try_advisory_xact_lock(
            pg_catalog.hashtextextended(v_user::text, 7::bigint));
        select coalesce(array_agg(distinct i.post_id), '{}') into v_exclude
        from public.user_interaction i where i.user_id = v_user;
        select * into v_next
        from recodb.compute_slate(v_user, v_version, (v_settings ->> 'slate_size')::integer,
                                  v_exclude, '{}', 1, v_settings);
        perform recodb.store_slate(
            v_user, v_version, v_next.post_ids, v_next.scores, v_next.reasons, true, now(),
            v_expires);
        if v_replicas then  -- the logged copy hot standbys serve
            insert into recodb.replica_slate
                (user_id, model_version, post_ids, scores, reasons, generated_at, expires_at)
            values (v_user, v_version, v_next.post_ids, v_next.scores, v_next.reasons, now(),
                    v_expires)
            on conflict (user_id) do update
                set (model_version, post_ids, scores, reasons, generated_at, expires_at)
                  = (excluded.model_version, excluded.post_ids, excluded.scores,
                     excluded.reasons, excluded.generated_at, excluded.expires_at);
        end if;
        users := users + 1;
    end loop;
    return next;
end
$$;

COMMENT ON FUNCTION recodb.precompute(p_active_days double precision, p_after uuid, p_limit integer, p_modulus integer, p_remainder integer) IS 'Stores fresh slates for up to p_limit users active in the last p_active_days (after p_after, in the p_remainder share of p_modulus); returns (users, last_user_id)';

CREATE FUNCTION recodb.prune_models(p_keep integer DEFAULT NULL::integer) RETURNS integer[]
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'recodb', 'pg_temp'
    AS $$
declare
    v_keep integer := coalesce(p_keep, (recodb.setting_value('keep_model_versions'))::integer);
    v_version integer;
    v_removed integer[] := '{}';
begin
    if v_keep is null or v_keep < 0 then
        raise exception 'p_keep must be >= 0, got %', v_keep using errcode = '22023';
    end if;
    perform pg_advisory_xact_lock(pg_catalog.hashtext('recodb.activate_model'));
    for v_version in
        select version from recodb.model
        where status in ('ready', 'retired')
        order by version desc
        offset v_keep
    loop
        -- Skipped when readers hold the tables (the next prune takes it).
        if recodb.drop_model_tables(v_version) then
            delete from recodb.model where version = v_version;
            v_removed := v_removed || v_version;
        end if;
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

CREATE FUNCTION recodb.rebuild_engagement() RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'recodb', 'pg_temp'
    AS $$
begin
    delete from recodb.engagement;
    insert into recodb.engagement
        (post_id, user_id, interaction_type, last_at, first_xid, changed_xid)
    select i.post_id, i.user_id, i.interaction_type, max(i.created_at), '0'::xid8, '0'::xid8
    from public.user_interaction i
    group by i.post_id, i.user_id, i.interaction_type;
    update recodb.refresh_state set full_needed = true, engagement_stale = false;
end
$$;

COMMENT ON FUNCTION recodb.rebuild_engagement() IS 'Internal: rebuilds recodb.engagement from user_interaction; the next refresh is full';

CREATE FUNCTION recodb.recommend(p_user_id uuid, p_limit integer DEFAULT 50, p_offset integer DEFAULT 0, p_exclude_seen boolean DEFAULT true) RETURNS TABLE(post_id uuid, score double precision, reason text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'recodb', 'pg_temp'
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
declare
    v_settings jsonb;
    v_version integer;
    v_slate recodb.slate;
    v_wanted integer;
    v_exclude uuid[] := '{}';
    v_placed uuid[] := '{}';
    v_next record;
    v_store boolean;
    v_continued boolean := false;
    v_known boolean;
    v_standby boolean;
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
    -- A feed session holds at most 500 posts.
    if p_offset >= 500 then
        return;
    end if;
    v_wanted := least(500, p_offset + p_limit);

    -- Held until the transaction ends: the version's tables can't be dropped under us.
    perform pg_advisory_xact_lock_shared(pg_catalog.hashtext('recodb.model_tables'));
    select m.version into v_version from recodb.model m where m.status = 'active';
    v_standby := pg_is_in_recovery();
    if not v_standby then
        select s.* into v_slate
        from recodb.slate s
        where s.user_id = p_user_id and s.expires_at > now()
          and s.model_version is not distinct from v_version;
    elsif pg_catalog.to_regclass('recodb.replica_slate') is not null then  -- from 0009 on
        -- recodb.slate is unlogged (the primary's alone); precompute's copy replicates. As a
        -- precomputed slate it serves every page, the first too (it can't be marked used here).
        select r.user_id, r.model_version, r.post_ids, r.scores, r.reasons, true,
               r.generated_at, r.expires_at
        into v_slate
        from recodb.replica_slate r
        where r.user_id = p_user_id and r.expires_at > now()
          and r.model_version is not distinct from v_version;
    end if;

    if v_slate.user_id is null or (p_offset = 0 and not v_slate.precomputed)
       or (cardinality(v_slate.post_ids) < v_wanted and cardinality(v_slate.post_ids) < 500) then
        select jsonb_object_agg(s.key, s.value) into v_settings from recodb.setting s;
        v_known := exists (select from public.users u where u.id = p_user_id);
        if p_exclude_seen and v_known then
            select coalesce(array_agg(distinct i.post_id), '{}') into v_exclude
            from public.user_interaction i where i.user_id = p_user_id;
        end if;
        v_store := v_known and not v_standby
                   and pg_try_advisory_xact_lock(
                       pg_catalog.hashtextextended(p_user_id::text, 7::bigint));
        if v_slate.user_id is not null and p_offset > 0 then
            v_continued := true;
            -- Continue the slate: what follows ranks after everything it holds.
            select coalesce(array_agg(p.author_id), '{}') into v_placed
            from public.posts p where p.id = any (v_slate.post_ids);
            select * into v_next
            from recodb.compute_slate(
                p_user_id, v_version,
                greatest((v_settings ->> 'slate_size')::integer, v_wanted)
                    - cardinality(v_slate.post_ids),
                v_exclude || v_slate.post_ids, v_placed,
                v_slate.scores[cardinality(v_slate.scores)] * (1 - 1e-9), v_settings);
            v_slate.post_ids := v_slate.post_ids || v_next.post_ids;
            v_slate.scores := v_slate.scores || v_next.scores;
            v_slate.reasons := v_slate.reasons || v_next.reasons;
        else
            select * into v_next
            from recodb.compute_slate(
                p_user_id, v_version,
                least(500, greatest((v_settings ->> 'slate_size')::integer, v_wanted)),
                v_exclude, '{}', 1, v_settings);
            v_slate := row(p_user_id, v_version, v_next.post_ids, v_next.scores, v_next.reasons,
                           false, now(),
                           now() + make_interval(
                               secs => (v_settings ->> 'slate_ttl_seconds')::float8));
        end if;
        if v_store then
            perform recodb.store_slate(p_user_id, v_version, v_slate.post_ids, v_slate.scores,
                                       v_slate.reasons, false, v_slate.generated_at,
                                       v_slate.expires_at);
        end if;
        -- A continued slate's stored part may hold posts touched since: left out too. A new
        -- slate holds none of v_exclude, so it skips the check (every row against every seen
        -- post: 0.30–0.34 ms against 0.05 ms for a user who saw 1,000 posts).
        return query
        select x.post_id, x.score, x.reason
        from unnest(v_slate.post_ids, v_slate.scores, v_slate.reasons)
                 with ordinality as x(post_id, score, reason, n)
        where x.n > p_offset and x.n <= p_offset + p_limit
          and (not v_continued or x.post_id <> all (v_exclude))
        order by x.n;
        return;
    end if;

    if p_offset = 0 and v_slate.precomputed and not v_standby
       and pg_try_advisory_xact_lock(pg_catalog.hashtextextended(p_user_id::text, 7::bigint)) then
        -- A precomputed slate serves its first page once; the next offset 0 is a new slate.
        update recodb.slate s set precomputed = false where s.user_id = p_user_id;
    end if;
    if p_exclude_seen then  -- what they touched since the slate was made (usually nothing)
        select coalesce(array_agg(i.post_id), '{}') into v_exclude
        from public.user_interaction i
        where i.user_id = p_user_id and i.created_at >= v_slate.generated_at;
    end if;
    return query
    select x.post_id, x.score, x.reason
    from unnest(v_slate.post_ids[p_offset + 1:p_offset + p_limit],
                v_slate.scores[p_offset + 1:p_offset + p_limit],
                v_slate.reasons[p_offset + 1:p_offset + p_limit])
             with ordinality as x(post_id, score, reason, n)
    where x.post_id <> all (v_exclude)
    order by x.n;
end
$$;

COMMENT ON FUNCTION recodb.recommend(p_user_id uuid, p_limit integer, p_offset integer, p_exclude_seen boolean) IS 'The feed of p_user_id: (post_id, score in [0, 1], reason), best first, ties by post_id. Offset 0 computes and stores a slate; later offsets page through it, extending it as needed';

CREATE FUNCTION recodb.recount_engagement(p_from xid8, p_weights jsonb, p_upto xid8) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'recodb', 'pg_temp'
    AS $$
begin
    if p_from is null then
        if (select s.engagement_stale from recodb.refresh_state s) then
            perform recodb.rebuild_engagement();
        end if;
        delete from recodb.post_engagement;
        delete from recodb.user_recent_likes;
        update recodb.author_popularity set engagement = 0 where engagement <> 0;
    end if;

    -- New triples (counted) and triples whose time moved (for newest times and recent likes).
    create temp table if not exists recount_new (
        post_id uuid, user_id uuid, interaction_type text, last_at timestamptz, is_new boolean
    ) on commit drop;
    truncate recount_new;
    insert into recount_new
    select e.post_id, e.user_id, e.interaction_type, e.last_at,
           e.first_xid >= coalesce(p_from, '0'::xid8) and e.first_xid < p_upto
    from recodb.engagement e
    where (e.first_xid >= coalesce(p_from, '0'::xid8) and e.first_xid < p_upto)
       or (p_from is not null and e.changed_xid >= p_from and e.changed_xid < p_upto);

    insert into recodb.post_engagement as pe
        (post_id, views, clicks, likes, comments, shares, last_interaction_at)
    select n.post_id,
           count(*) filter (where n.is_new and n.interaction_type = 'view'),
           count(*) filter (where n.is_new and n.interaction_type = 'click'),
           count(*) filter (where n.is_new and n.interaction_type = 'like'),
           count(*) filter (where n.is_new and n.interaction_type = 'comment'),
           count(*) filter (where n.is_new and n.interaction_type = 'share'),
           max(n.last_at)
    from recount_new n
    group by n.post_id
    on conflict (post_id) do update
        set views = pe.views + excluded.views, clicks = pe.clicks + excluded.clicks,
            likes = pe.likes + excluded.likes, comments = pe.comments + excluded.comments,
            shares = pe.shares + excluded.shares,
            last_interaction_at = greatest(pe.last_interaction_at, excluded.last_interaction_at);

    -- Authors: engagement from the new triples; every author with posts has a row.
    insert into recodb.author_popularity as a (author_id, engagement)
    select p.author_id, coalesce(sum((p_weights ->> n.interaction_type)::float8), 0)
    from recount_new n
    join public.posts p on p.id = n.post_id
    where n.is_new and p.author_id is not null
    group by p.author_id
    on conflict (author_id) do update set engagement = a.engagement + excluded.engagement;
    -- Followers, recounted; popularity follows from both.
    with counted as (
        select f.followee_id as author_id, count(*) as followers
        from public.follows f group by f.followee_id
    ), changed as (
        select a.author_id, coalesce(c.followers, 0) as followers
        from recodb.author_popularity a
        left join counted c on c.author_id = a.author_id
        where a.followers is distinct from coalesce(c.followers, 0)
    )
    update recodb.author_popularity a set followers = c.followers
    from changed c where c.author_id = a.author_id;
    insert into recodb.author_popularity (author_id, followers)
    select f.followee_id, count(*) from public.follows f
    where not exists (select from recodb.author_popularity a where a.author_id = f.followee_id)
      and exists (select from public.posts p where p.author_id = f.followee_id)
    group by f.followee_id;
    update recodb.author_popularity a
    set popularity = ln(1 + a.followers) + ln(1 + a.engagement)
    where a.popularity is distinct from ln(1 + a.followers) + ln(1 + a.engagement);

    -- Recent likes of the users who liked, commented or shared something new.
    with touched as (
        select distinct n.user_id from recount_new n
        where n.interaction_type in ('like', 'comment', 'share')
    ), liked as (
        select e.user_id, e.post_id, max(e.last_at) as at
        from touched t
        join recodb.engagement e on e.user_id = t.user_id
        where e.interaction_type in ('like', 'comment', 'share')
        group by e.user_id, e.post_id
    ), ranked as (
        select l.*, row_number() over (partition by l.user_id order by l.at desc, l.post_id) as n
        from liked l
    )
    insert into recodb.user_recent_likes as r (user_id, post_ids)
    select k.user_id, array_agg(k.post_id order by k.n) from ranked k
    where k.n <= 20
    group by k.user_id
    on conflict (user_id) do update set post_ids = excluded.post_ids;
end
$$;

COMMENT ON FUNCTION recodb.recount_engagement(p_from xid8, p_weights jsonb, p_upto xid8) IS 'Internal to refresh(): counts engagement in, fully (p_from null) or from the triples first added by transactions in [p_from, p_upto)';

CREATE FUNCTION recodb.refresh() RETURNS TABLE(step text, seconds double precision)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'recodb', 'pg_temp'
    AS $$
declare
    v_started timestamptz;
    v_state recodb.refresh_state;
    v_weights jsonb := recodb.setting_value('interaction_weights');
    v_upto xid8;
    v_full boolean;
    v_half_life double precision :=
        3600 * (recodb.setting_value('trending_half_life_hours'))::float8;
    v_window double precision := 3600 * (recodb.setting_value('trending_window_hours'))::float8;
begin
    perform pg_advisory_xact_lock(pg_catalog.hashtext('recodb.refresh'));
    v_started := clock_timestamp();
    select * into v_state from recodb.refresh_state for update;
    -- Every transaction below this one has finished: what it added is visible now, and
    -- nothing below it can still arrive.
    v_upto := pg_snapshot_xmin(pg_current_snapshot());
    v_full := v_state.full_needed or v_state.weights is distinct from v_weights;
    if v_full then
        perform recodb.recount_engagement(null, v_weights, v_upto);
        step := 'engagement (full)';
    else
        perform recodb.recount_engagement(v_state.engagement_xid, v_weights, v_upto);
        step := 'engagement';
    end if;
    seconds := extract(epoch from clock_timestamp() - v_started);
    return next;

    -- Trending: recomputed from the window (readers see the old rows or the new, never none).
    v_started := clock_timestamp();
    delete from recodb.trending_post;
    insert into recodb.trending_post (post_id, velocity)
    select e.post_id,
           sum((v_weights ->> e.interaction_type)::float8
               * recodb.decay(extract(epoch from now() - e.last_at), v_half_life))
    from recodb.engagement e
    where e.last_at > now() - make_interval(secs => v_window)
    group by e.post_id;
    step := 'trending_post';
    seconds := extract(epoch from clock_timestamp() - v_started);
    return next;

    v_started := clock_timestamp();
    refresh materialized view concurrently recodb.fresh_post;
    step := 'fresh_post';
    seconds := extract(epoch from clock_timestamp() - v_started);
    return next;

    v_started := clock_timestamp();
    perform recodb.post_vectors(case when not v_full then v_state.engagement_xid end, v_upto);
    update recodb.refresh_state
    set engagement_xid = v_upto, full_needed = false, weights = v_weights, refreshed_at = now();
    step := 'new post vectors';
    seconds := extract(epoch from clock_timestamp() - v_started);
    return next;

    v_started := clock_timestamp();
    delete from recodb.slate s
    where s.user_id in (select e.user_id from recodb.slate e where e.expires_at <= now()
                        for update skip locked);
    if pg_catalog.to_regclass('recodb.replica_slate') is not null then  -- from 0009 on
        delete from recodb.replica_slate r
        where r.user_id in (select e.user_id from recodb.replica_slate e
                            where e.expires_at <= now() for update skip locked);
    end if;
    step := 'expired slates';
    seconds := extract(epoch from clock_timestamp() - v_started);
    return next;
end
$$;

COMMENT ON FUNCTION recodb.refresh() IS 'Advances engagement counts, author popularity and recent likes by what arrived since the last refresh (a full recompute when needed), refreshes trending_post and fresh_post concurrently, gives new posts vectors and deletes expired slates; returns (step, seconds)';

CREATE FUNCTION recodb.rollback_model() RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'recodb', 'pg_temp'
    AS $$
declare
    v_previous integer;
begin
    perform pg_advisory_xact_lock(pg_catalog.hashtext('recodb.activate_model'));
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

CREATE FUNCTION recodb.setting_problem(p_key text, p_value jsonb, p_kind text, p_min numeric, p_max numeric, p_default jsonb) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
    v_key text := case when length(p_key) > 60 then left(p_key, 60) || '…' else p_key end;
    v_shown text := case when length(p_value::text) > 60 then left(p_value::text, 60) || '…'
                         else p_value::text end;
    v_range text := concat(case when p_min is not null then format(' >= %s', p_min) end,
                           case when p_max is not null then format(' <= %s', p_max) end);
    v_expected text[];
    v_got text[];
    v_entry record;
    v_number numeric;
begin
    if p_min is not null and p_max is not null then
        v_range := format(' between %s and %s', p_min, p_max);
    end if;
    if p_kind = 'weights' then
        select array_agg(k order by k) into v_expected from jsonb_object_keys(p_default) k;
        if jsonb_typeof(p_value) = 'object' then
            select array_agg(k order by k) into v_got from jsonb_object_keys(p_value) k;
        end if;
        if jsonb_typeof(p_value) <> 'object' or v_got is distinct from v_expected then
            return format('setting %s must be a JSON object with exactly the keys %s, got %s',
                          v_key, array_to_string(v_expected, ', '), v_shown);
        end if;
        for v_entry in select e.key, e.value from jsonb_each(p_value) e order by e.key loop
            if jsonb_typeof(v_entry.value) = 'number' then
                v_number := v_entry.value::numeric;
            end if;
            if jsonb_typeof(v_entry.value) <> 'number' or v_number < 0
               or (v_number <> 0 and (v_number < p_min or v_number > p_max)) then
                return format('setting %s: %s must be 0 or a number%s, got %s', v_key,
                              v_entry.key, coalesce(nullif(v_range, ''), ' > 0'),
                              case when length(v_entry.value::text) > 60
                                   then left(v_entry.value::text, 60) || '…'
                                   else v_entry.value::text end);
            end if;
        end loop;
        if (select sum(e.value::numeric) from jsonb_each_text(p_value) e) = 0 then
            return format('setting %s: the weights must not all be 0', v_key);
        end if;
        return null;
    elsif p_kind in ('positive', 'whole') then
        if jsonb_typeof(p_value) = 'number' then
            v_number := p_value::numeric;
        end if;
        if v_number is null
           or v_number < coalesce(p_min, case p_kind when 'whole' then 1 end)
           or (p_min is null and p_kind = 'positive' and v_number <= 0)
           or v_number > p_max
           or (p_kind = 'whole' and v_number <> trunc(v_number)) then
            return format('setting %s must be %s%s, got %s', v_key,
                          case p_kind when 'whole' then 'a whole number' else 'a number' end,
                          coalesce(nullif(v_range, ''),
                                   case p_kind when 'whole' then ' >= 1' else ' > 0' end),
                          v_shown);
        end if;
        return null;
    end if;
    return format('setting %s has an unknown kind %s', v_key, coalesce(p_kind, 'null'));
end
$$;

COMMENT ON FUNCTION recodb.setting_problem(p_key text, p_value jsonb, p_kind text, p_min numeric, p_max numeric, p_default jsonb) IS 'Internal: why a setting value does not fit its kind and bounds (one line), or null';

CREATE FUNCTION recodb.setting_validate() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
    v_new jsonb := to_jsonb(new);
    v_old jsonb;
    v_column text;
    v_problem text;
    v_key text := case when length(new.key) > 60 then left(new.key, 60) || '…' else new.key end;
begin
    if tg_op = 'INSERT' then
        if not exists (select from recodb.setting s where s.key = new.key) then
            raise exception 'unknown setting %: settings are defined by recodb''s migrations',
                v_key using errcode = '22023';
        end if;
        -- The key exists: the insert conflicts (an upsert's update comes back here as UPDATE).
        return new;
    end if;

    v_old := to_jsonb(old);
    if new.key is distinct from old.key then
        raise exception 'setting %: a key can''t be renamed', old.key using errcode = '22023';
    end if;
    for v_column in select k from jsonb_object_keys(v_old) k
                    where k not in ('value', 'updated_at') order by k loop
        if v_new -> v_column is distinct from v_old -> v_column then
            raise exception 'setting %: only its value may change, not %', old.key, v_column
                using errcode = '22023';
        end if;
    end loop;

    -- (to_jsonb reads the bounds, so the trigger also works below revision 0005.)
    v_problem := recodb.setting_problem(new.key, new.value, new.kind,
                                        (v_new ->> 'min_value')::numeric,
                                        (v_new ->> 'max_value')::numeric,
                                        coalesce(v_new -> 'default_value', old.value));
    if v_problem is not null then
        raise exception '%', v_problem using errcode = '22023';
    end if;
    if new.kind = 'whole' then
        new.value := to_jsonb(trunc(new.value::numeric));
    end if;
    new.updated_at := now();
    return new;
end
$$;

COMMENT ON FUNCTION recodb.setting_validate() IS 'Trigger: refuses unknown keys, changes to a key''s definition, and values outside its kind and bounds (SQLSTATE 22023)';

CREATE FUNCTION recodb.setting_value(p_key text) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'recodb', 'pg_temp'
    AS $$
    select value from recodb.setting where key = p_key
$$;

COMMENT ON FUNCTION recodb.setting_value(p_key text) IS 'The jsonb value of setting p_key, or null when there is no such setting';

CREATE FUNCTION recodb.similar_posts(p_post_id uuid, p_limit integer DEFAULT 20) RETURNS TABLE(post_id uuid, similarity double precision)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'recodb', 'pg_temp'
    AS $$
    select n.id, n.similarity from recodb.cosine_neighbours('post', p_post_id, p_limit) n
$$;

COMMENT ON FUNCTION recodb.similar_posts(p_post_id uuid, p_limit integer) IS 'Up to p_limit posts nearest to p_post_id by cosine of collaborative vectors: (post_id, similarity in [0, 1]), best first, ties by post_id';

CREATE FUNCTION recodb.similar_users(p_user_id uuid, p_limit integer DEFAULT 20) RETURNS TABLE(user_id uuid, similarity double precision)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'recodb', 'pg_temp'
    AS $$
    select n.id, n.similarity from recodb.cosine_neighbours('user', p_user_id, p_limit) n
$$;

COMMENT ON FUNCTION recodb.similar_users(p_user_id uuid, p_limit integer) IS 'Up to p_limit users nearest to p_user_id by cosine of collaborative vectors: (user_id, similarity in [0, 1]), best first, ties by user_id';

CREATE FUNCTION recodb.slate_parts(p_user_id uuid, p_version integer, p_cf public.vector, p_content public.vector, p_exclude uuid[], p_settings jsonb) RETURNS TABLE(post_id uuid, author_id uuid, source smallint, collaborative double precision, neighbours double precision, content double precision, recency double precision, trending double precision, following double precision)
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'recodb', 'pg_temp'
    SET "hnsw.ef_search" TO '40'
    SET "hnsw.iterative_scan" TO 'relaxed_order'
    SET "ivfflat.probes" TO '5'
    SET "ivfflat.iterative_scan" TO 'relaxed_order'
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
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

COMMENT ON FUNCTION recodb.slate_parts(p_user_id uuid, p_version integer, p_cf public.vector, p_content public.vector, p_exclude uuid[], p_settings jsonb) IS 'Internal: a user''s slate candidates with their source and score parts, each in [0, 1]';

CREATE FUNCTION recodb.store_slate(p_user_id uuid, p_version integer, p_post_ids uuid[], p_scores double precision[], p_reasons text[], p_precomputed boolean, p_generated_at timestamp with time zone, p_expires_at timestamp with time zone) RETURNS void
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'recodb', 'pg_temp'
    AS $$
    insert into recodb.slate
        (user_id, model_version, post_ids, scores, reasons, precomputed, generated_at,
         expires_at)
    values (p_user_id, p_version, p_post_ids, p_scores, p_reasons, p_precomputed,
            p_generated_at, p_expires_at)
    on conflict (user_id) do update
        set (model_version, post_ids, scores, reasons, precomputed, generated_at, expires_at)
          = (excluded.model_version, excluded.post_ids, excluded.scores, excluded.reasons,
             excluded.precomputed, excluded.generated_at, excluded.expires_at)
$$;

COMMENT ON FUNCTION recodb.store_slate(p_user_id uuid, p_version integer, p_post_ids uuid[], p_scores double precision[], p_reasons text[], p_precomputed boolean, p_generated_at timestamp with time zone, p_expires_at timestamp with time zone) IS 'Internal: stores a slate, replacing the user''s previous one';

CREATE FUNCTION recodb.text_lists(p_texts bigint, p_draft boolean DEFAULT false) RETURNS integer
    LANGUAGE sql IMMUTABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select least(2000, greatest(1, ceil(coalesce(p_texts, 0)
                                        / case when p_draft then 1000.0 else 200.0 end)))::integer
$$;

COMMENT ON FUNCTION recodb.text_lists(p_texts bigint, p_draft boolean) IS 'Internal: IVFFlat lists for a text index over p_texts posts (about 200 a list, 1,000 for a draft; 1 to 2,000)';

CREATE FUNCTION recodb.track_interaction(p_user_id uuid, p_post_id uuid, p_type text, p_metadata jsonb DEFAULT NULL::jsonb) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'recodb', 'pg_temp'
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
            coalesce(quote_literal(left(p_type, 60)) || case when length(p_type) > 60
                                                           then '…' else '' end, 'null')
            using errcode = '22023';
    end if;
    if p_metadata is not null and jsonb_typeof(p_metadata) <> 'object' then
        raise exception 'p_metadata must be a JSON object, got %', jsonb_typeof(p_metadata)
            using errcode = '22023';
    end if;
    if octet_length(p_metadata::text) > (recodb.setting_value('max_metadata_bytes'))::integer then
        raise exception 'p_metadata must be at most % bytes of JSON (setting max_metadata_bytes), '
            'got %', recodb.setting_value('max_metadata_bytes'), octet_length(p_metadata::text)
            using errcode = '22023';
    end if;
    if not exists (select from public.users where id = p_user_id) then
        raise exception 'unknown user %', p_user_id using errcode = '22023';
    end if;
    if not exists (select from public.posts where id = p_post_id) then
        raise exception 'unknown post %', p_post_id using errcode = '22023';
    end if;
    insert into public.user_interaction (user_id, post_id, interaction_type, metadata)
    values (p_user_id, p_post_id, p_type, p_metadata)
    returning id into v_id;
    return v_id;
end
$$;

COMMENT ON FUNCTION recodb.track_interaction(p_user_id uuid, p_post_id uuid, p_type text, p_metadata jsonb) IS 'Records one interaction (view, click, like, comment, share); returns its id';

CREATE FUNCTION recodb.trending(p_limit integer DEFAULT 50, p_offset integer DEFAULT 0) RETURNS TABLE(post_id uuid, score double precision)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'recodb', 'pg_temp'
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

CREATE FUNCTION recodb.user_taste(p_user_id uuid, p_version integer, p_weights jsonb, OUT cf public.vector, OUT content public.vector) RETURNS record
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'recodb', 'pg_temp'
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
declare
    v_model recodb.model;
    v_posts uuid[];
    v_weights real[];
    v_sum public.vector;
    v_content_sum public.vector;
    v_content_weight double precision;
    v_folded real[];
    v_alpha real;
begin
    select * into v_model from recodb.model m where m.version = p_version;
    if v_model.version is null then
        return;
    end if;
    -- user_vector and post_vector below are the version's (model_search_path()).
    perform pg_catalog.set_config('search_path', recodb.model_search_path(p_version), true);
    select u.cf, u.content into cf, content from user_vector u where u.user_id = p_user_id;

    -- What they touched since the model's data ends (the newest 200), weighted by type.
    select array_agg(r.post_id), array_agg(r.w)
    into v_posts, v_weights
    from (select i.post_id, coalesce((p_weights ->> i.interaction_type)::real, 0) as w
          from public.user_interaction i
          where i.user_id = p_user_id and i.created_at > v_model.trained_to
          order by i.created_at desc
          limit 200) r
    where r.w > 0;
    if v_posts is null then
        return;
    end if;
    v_alpha := coalesce((v_model.params ->> 'alpha')::real, 0);

    select public.sum(v.cf OPERATOR(public.*)
                      array_fill((1 + v_alpha * t.w)::real, array[v_model.factors])::public.vector),
           public.sum(v.content OPERATOR(public.*)
                      array_fill(t.w, array[public.vector_dims(v.content)])::public.vector)
               filter (where v.content is not null),
           sum(t.w) filter (where v.content is not null)
    into v_sum, v_content_sum, v_content_weight
    from unnest(v_posts, v_weights) as t(post_id, w)
    join post_vector v on v.post_id = t.post_id
    where v.cf is not null;

    if v_sum is not null then
        if v_model.fold_in is null then
            v_folded := v_sum::real[];  -- BPR: no closed form; the sum points the same way
        else
            select array_agg(x.value order by x.r)
            into v_folded
            from (select r.r, sum(v_model.fold_in[r.r * v_model.factors + c.c + 1] * s.elem[c.c + 1])
                              as value
                  from (select v_sum::real[] as elem) s,
                       generate_series(0, v_model.factors - 1) r(r),
                       generate_series(0, v_model.factors - 1) c(c)
                  group by r.r) x;
        end if;
        cf := case when cf is null then v_folded::public.vector
                   else cf OPERATOR(public.+) v_folded::public.vector end;
    end if;
    if v_content_sum is not null then
        v_content_sum := v_content_sum OPERATOR(public.*)
            array_fill((1 / v_content_weight)::real,
                       array[public.vector_dims(v_content_sum)])::public.vector;
        content := case when content is null then v_content_sum
                        else content OPERATOR(public.+) v_content_sum end;
    end if;
end
$$;

COMMENT ON FUNCTION recodb.user_taste(p_user_id uuid, p_version integer, p_weights jsonb, OUT cf public.vector, OUT content public.vector) IS 'Internal: a user''s cf and content vectors under a model, trained plus folded-in interactions';

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

CREATE UNLOGGED TABLE recodb.slate (
    user_id uuid NOT NULL,
    model_version integer,
    post_ids uuid[] NOT NULL,
    scores double precision[] NOT NULL,
    reasons text[] NOT NULL,
    precomputed boolean DEFAULT false NOT NULL,
    generated_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL
);

COMMENT ON TABLE recodb.slate IS 'One feed slate per user, best first (recommend() computes and stores it; later pages read it). Unlogged and without foreign keys: a lost slate is recomputed';

CREATE VIEW public.user_recommendation AS
 SELECT (md5(((s.user_id)::text || (p.post_id)::text)))::uuid AS id,
    s.user_id,
    p.post_id,
    p.score,
    s.generated_at,
    s.expires_at,
    p.reason,
    s.model_version
   FROM (recodb.slate s
     CROSS JOIN LATERAL UNNEST(s.post_ids, s.scores, s.reasons) p(post_id, score, reason));

COMMENT ON VIEW public.user_recommendation IS 'The seed''s precomputed recommendations, one row per post: a view over recodb.slate';

CREATE TABLE public.users (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    username text NOT NULL,
    external_id text,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE recodb.author_popularity (
    author_id uuid NOT NULL,
    followers bigint DEFAULT 0 NOT NULL,
    engagement double precision DEFAULT 0 NOT NULL,
    popularity double precision DEFAULT 0 NOT NULL
);

COMMENT ON TABLE recodb.author_popularity IS 'Per author: followers, type-weighted engagement on their posts, popularity = ln(1+followers) + ln(1+engagement); advanced by refresh()';

CREATE TABLE recodb.engagement (
    post_id uuid NOT NULL,
    user_id uuid NOT NULL,
    interaction_type text NOT NULL,
    last_at timestamp with time zone NOT NULL,
    first_xid xid8 DEFAULT pg_current_xact_id() NOT NULL,
    changed_xid xid8 DEFAULT pg_current_xact_id() NOT NULL
);

COMMENT ON TABLE recodb.engagement IS 'Each (post, user, interaction type) once with its newest time, kept by triggers on user_interaction; first_xid is the transaction that first added it, changed_xid the one that last moved its time';

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
    post_fold_in real[],
    blend jsonb,
    CONSTRAINT model_status_check CHECK ((status = ANY (ARRAY['training'::text, 'ready'::text, 'active'::text, 'retired'::text, 'failed'::text])))
);

COMMENT ON TABLE recodb.model IS 'Model registry: one row per trained version; at most one is active';

COMMENT ON COLUMN recodb.model.fold_in IS 'Row-major inverse of (Y''Y + regularization * I) over the post vectors Y: folds a new user''s interactions into a vector without retraining';

COMMENT ON COLUMN recodb.model.tuning IS 'The hyperparameter search that chose params (recodb train --tune), if any';

COMMENT ON COLUMN recodb.model.post_fold_in IS 'Row-major inverse of (X''X + regularization * I) over the user vectors X: folds the first engagements of a post written after training into its vector';

COMMENT ON COLUMN recodb.model.blend IS 'The blend of score parts learned on the validation split (weights and their validation NDCG), or null';

CREATE TABLE recodb.setting (
    key text NOT NULL,
    value jsonb NOT NULL,
    description text NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    kind text NOT NULL,
    default_value jsonb NOT NULL,
    min_value numeric NOT NULL,
    max_value numeric NOT NULL,
    CONSTRAINT setting_bounds_check CHECK ((min_value <= max_value)),
    CONSTRAINT setting_kind_check CHECK ((kind = ANY (ARRAY['weights'::text, 'positive'::text, 'whole'::text])))
);

COMMENT ON TABLE recodb.setting IS 'Tunable behaviour as data; values are validated by recodb.setting_validate()';

COMMENT ON COLUMN recodb.setting.default_value IS 'The value `recodb settings reset` restores; fixed by migrations';

COMMENT ON COLUMN recodb.setting.min_value IS 'Smallest accepted value (weights: of each non-zero weight); fixed by migrations';

COMMENT ON COLUMN recodb.setting.max_value IS 'Largest accepted value (weights: of each weight); fixed by migrations';

CREATE MATERIALIZED VIEW recodb.fresh_post AS
 SELECT p.id AS post_id,
    p.author_id,
    p.created_at,
    COALESCE(a.popularity, (0)::double precision) AS popularity
   FROM (public.posts p
     LEFT JOIN recodb.author_popularity a ON ((a.author_id = p.author_id)))
  WHERE ((p.author_id IS NOT NULL) AND (p.created_at > LEAST(( SELECT m.trained_to
           FROM recodb.model m
          WHERE (m.status = 'active'::text)), (now() - make_interval(hours => ( SELECT (setting.value)::integer AS value
           FROM recodb.setting
          WHERE (setting.key = 'fresh_post_hours'::text)))))))
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

CREATE TABLE recodb.post_engagement (
    post_id uuid NOT NULL,
    views bigint DEFAULT 0 NOT NULL,
    clicks bigint DEFAULT 0 NOT NULL,
    likes bigint DEFAULT 0 NOT NULL,
    comments bigint DEFAULT 0 NOT NULL,
    shares bigint DEFAULT 0 NOT NULL,
    last_interaction_at timestamp with time zone
);

COMMENT ON TABLE recodb.post_engagement IS 'Per post: how many users interacted, per type (each user once); advanced by refresh()';

CREATE TABLE recodb.refresh_state (
    id boolean DEFAULT true NOT NULL,
    engagement_xid xid8 DEFAULT '0'::xid8 NOT NULL,
    full_needed boolean DEFAULT true NOT NULL,
    engagement_stale boolean DEFAULT false NOT NULL,
    weights jsonb,
    refreshed_at timestamp with time zone,
    CONSTRAINT refresh_state_id_check CHECK (id)
);

COMMENT ON TABLE recodb.refresh_state IS 'refresh(): triples with first_xid below engagement_xid are counted; full_needed: count everything again; engagement_stale: rebuild engagement first (after a delete or update of user_interaction)';

CREATE TABLE recodb.replica_slate (
    user_id uuid NOT NULL,
    model_version integer,
    post_ids uuid[] NOT NULL,
    scores double precision[] NOT NULL,
    reasons text[] NOT NULL,
    generated_at timestamp with time zone NOT NULL,
    expires_at timestamp with time zone NOT NULL
);

COMMENT ON TABLE recodb.replica_slate IS 'The slates recodb.precompute() stored, logged so that hot standbys serve them; the primary serves from recodb.slate';

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

CREATE TABLE recodb.trending_post (
    post_id uuid NOT NULL,
    velocity double precision NOT NULL
);

COMMENT ON TABLE recodb.trending_post IS 'Engagement velocity: type-weighted interactions of the trending window (each user once per post and type), each halved every trending_half_life_hours of age at refresh time (recomputed by refresh() from the window alone)';

CREATE TABLE recodb.user_recent_likes (
    user_id uuid NOT NULL,
    post_ids uuid[] NOT NULL
);

COMMENT ON TABLE recodb.user_recent_likes IS 'Per user: the 20 posts they most recently liked, commented on or shared (neighbour candidates in recommend()); advanced by refresh()';

ALTER TABLE ONLY public.follows
    ADD CONSTRAINT follows_pkey PRIMARY KEY (follower_id, followee_id);

ALTER TABLE ONLY public.posts
    ADD CONSTRAINT posts_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.recodb_alembic_version
    ADD CONSTRAINT recodb_alembic_version_pkc PRIMARY KEY (version_num);

ALTER TABLE ONLY public.user_interaction
    ADD CONSTRAINT user_interaction_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);

ALTER TABLE ONLY recodb.author_popularity
    ADD CONSTRAINT author_popularity_pkey PRIMARY KEY (author_id);

ALTER TABLE ONLY recodb.engagement
    ADD CONSTRAINT engagement_pkey PRIMARY KEY (post_id, user_id, interaction_type);

ALTER TABLE ONLY recodb.installed_object
    ADD CONSTRAINT installed_object_pkey PRIMARY KEY (kind, name);

ALTER TABLE ONLY recodb.model
    ADD CONSTRAINT model_pkey PRIMARY KEY (version);

ALTER TABLE ONLY recodb.post_engagement
    ADD CONSTRAINT post_engagement_pkey PRIMARY KEY (post_id);

ALTER TABLE ONLY recodb.refresh_state
    ADD CONSTRAINT refresh_state_pkey PRIMARY KEY (id);

ALTER TABLE ONLY recodb.replica_slate
    ADD CONSTRAINT replica_slate_pkey PRIMARY KEY (user_id);

ALTER TABLE ONLY recodb.setting
    ADD CONSTRAINT setting_pkey PRIMARY KEY (key);

ALTER TABLE ONLY recodb.slate
    ADD CONSTRAINT slate_pkey PRIMARY KEY (user_id);

ALTER TABLE ONLY recodb.synthetic_dataset
    ADD CONSTRAINT synthetic_dataset_pkey PRIMARY KEY (id);

ALTER TABLE ONLY recodb.synthetic_post
    ADD CONSTRAINT synthetic_post_pkey PRIMARY KEY (post_id);

ALTER TABLE ONLY recodb.synthetic_user
    ADD CONSTRAINT synthetic_user_pkey PRIMARY KEY (user_id);

ALTER TABLE ONLY recodb.trending_post
    ADD CONSTRAINT trending_post_pkey PRIMARY KEY (post_id);

ALTER TABLE ONLY recodb.user_recent_likes
    ADD CONSTRAINT user_recent_likes_pkey PRIMARY KEY (user_id);

CREATE INDEX follows_followee_idx ON public.follows USING btree (followee_id);

CREATE INDEX idx_user_interaction_post ON public.user_interaction USING btree (post_id, created_at);

CREATE INDEX idx_user_interaction_time ON public.user_interaction USING btree (created_at);

CREATE INDEX idx_user_interaction_user ON public.user_interaction USING btree (user_id, created_at) INCLUDE (post_id, interaction_type);

CREATE INDEX posts_author_created_idx ON public.posts USING btree (author_id, created_at DESC);

CREATE INDEX posts_created_idx ON public.posts USING btree (created_at DESC);

CREATE UNIQUE INDEX posts_external_id_key ON public.posts USING btree (external_id);

CREATE UNIQUE INDEX users_external_id_key ON public.users USING btree (external_id);

CREATE INDEX author_popularity_popularity ON recodb.author_popularity USING btree (popularity DESC, author_id);

CREATE INDEX engagement_changed_xid ON recodb.engagement USING btree (changed_xid);

CREATE INDEX engagement_first_xid ON recodb.engagement USING btree (first_xid);

CREATE INDEX engagement_last_at ON recodb.engagement USING btree (last_at) INCLUDE (post_id, interaction_type);

CREATE INDEX engagement_user_likes ON recodb.engagement USING btree (user_id, last_at DESC, post_id) WHERE (interaction_type = ANY (ARRAY['like'::text, 'comment'::text, 'share'::text]));

CREATE INDEX fresh_post_popularity ON recodb.fresh_post USING btree (popularity DESC, created_at DESC, post_id);

CREATE UNIQUE INDEX fresh_post_post_id ON recodb.fresh_post USING btree (post_id);

CREATE UNIQUE INDEX model_single_active ON recodb.model USING btree ((true)) WHERE (status = 'active'::text);

CREATE INDEX replica_slate_expires_at ON recodb.replica_slate USING btree (expires_at);

CREATE INDEX slate_expires_at ON recodb.slate USING btree (expires_at);

CREATE INDEX trending_post_velocity ON recodb.trending_post USING btree (velocity DESC, post_id);

CREATE TRIGGER engagement_change AFTER DELETE OR UPDATE ON public.user_interaction FOR EACH STATEMENT EXECUTE FUNCTION recodb.engagement_change();

CREATE TRIGGER engagement_insert AFTER INSERT ON public.user_interaction REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION recodb.engagement_insert();

CREATE TRIGGER engagement_truncate AFTER TRUNCATE ON public.user_interaction FOR EACH STATEMENT EXECUTE FUNCTION recodb.engagement_change();

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

ALTER TABLE ONLY recodb.synthetic_post
    ADD CONSTRAINT synthetic_post_post_id_fkey FOREIGN KEY (post_id) REFERENCES public.posts(id) ON DELETE CASCADE;

ALTER TABLE ONLY recodb.synthetic_user
    ADD CONSTRAINT synthetic_user_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

GRANT USAGE ON SCHEMA public TO recodb_owner;

GRANT USAGE ON SCHEMA recodb TO recodb_feed_reader;
GRANT USAGE ON SCHEMA recodb TO recodb_tracker;
GRANT ALL ON SCHEMA recodb TO recodb_owner;

REVOKE ALL ON FUNCTION recodb.activate_model(p_version integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.compute_slate(p_user_id uuid, p_version integer, p_count integer, p_exclude uuid[], p_placed uuid[], p_ceiling double precision, p_settings jsonb, OUT post_ids uuid[], OUT scores double precision[], OUT reasons text[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.cosine_neighbours(p_kind text, p_id uuid, p_limit integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.create_model_tables(p_version integer, p_factors integer, p_content_dims integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.create_model_views(p_version integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.decay(p_age_seconds double precision, p_half_life_seconds double precision) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.drop_model_tables(p_version integer, p_wait_seconds double precision) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.drop_model_views(p_version integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.engagement_change() FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.engagement_insert() FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.index_model_table(p_version integer, p_step text, p_draft boolean) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.model_index_steps() FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.model_schema_name(p_version integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.model_search_path(p_version integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.model_table(p_kind text, p_version integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.model_table_name(p_kind text, p_version integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.post_vectors(p_from xid8, p_upto xid8, p_limit integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.precompute(p_active_days double precision, p_after uuid, p_limit integer, p_modulus integer, p_remainder integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.prune_models(p_keep integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.rebuild_engagement() FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.recommend(p_user_id uuid, p_limit integer, p_offset integer, p_exclude_seen boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION recodb.recommend(p_user_id uuid, p_limit integer, p_offset integer, p_exclude_seen boolean) TO recodb_feed_reader;
GRANT ALL ON FUNCTION recodb.recommend(p_user_id uuid, p_limit integer, p_offset integer, p_exclude_seen boolean) TO recodb_tracker;

REVOKE ALL ON FUNCTION recodb.recount_engagement(p_from xid8, p_weights jsonb, p_upto xid8) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.refresh() FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.rollback_model() FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.serving_status() FROM PUBLIC;
GRANT ALL ON FUNCTION recodb.serving_status() TO recodb_feed_reader;
GRANT ALL ON FUNCTION recodb.serving_status() TO recodb_tracker;

REVOKE ALL ON FUNCTION recodb.setting_problem(p_key text, p_value jsonb, p_kind text, p_min numeric, p_max numeric, p_default jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.setting_validate() FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.setting_value(p_key text) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.similar_posts(p_post_id uuid, p_limit integer) FROM PUBLIC;
GRANT ALL ON FUNCTION recodb.similar_posts(p_post_id uuid, p_limit integer) TO recodb_feed_reader;
GRANT ALL ON FUNCTION recodb.similar_posts(p_post_id uuid, p_limit integer) TO recodb_tracker;

REVOKE ALL ON FUNCTION recodb.similar_users(p_user_id uuid, p_limit integer) FROM PUBLIC;
GRANT ALL ON FUNCTION recodb.similar_users(p_user_id uuid, p_limit integer) TO recodb_feed_reader;
GRANT ALL ON FUNCTION recodb.similar_users(p_user_id uuid, p_limit integer) TO recodb_tracker;

REVOKE ALL ON FUNCTION recodb.slate_parts(p_user_id uuid, p_version integer, p_cf public.vector, p_content public.vector, p_exclude uuid[], p_settings jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.store_slate(p_user_id uuid, p_version integer, p_post_ids uuid[], p_scores double precision[], p_reasons text[], p_precomputed boolean, p_generated_at timestamp with time zone, p_expires_at timestamp with time zone) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.text_lists(p_texts bigint, p_draft boolean) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.track_interaction(p_user_id uuid, p_post_id uuid, p_type text, p_metadata jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION recodb.track_interaction(p_user_id uuid, p_post_id uuid, p_type text, p_metadata jsonb) TO recodb_tracker;

REVOKE ALL ON FUNCTION recodb.trending(p_limit integer, p_offset integer) FROM PUBLIC;
GRANT ALL ON FUNCTION recodb.trending(p_limit integer, p_offset integer) TO recodb_feed_reader;
GRANT ALL ON FUNCTION recodb.trending(p_limit integer, p_offset integer) TO recodb_tracker;

REVOKE ALL ON FUNCTION recodb.user_taste(p_user_id uuid, p_version integer, p_weights jsonb, OUT cf public.vector, OUT content public.vector) FROM PUBLIC;

GRANT SELECT ON TABLE public.follows TO recodb_owner;

GRANT SELECT ON TABLE public.posts TO recodb_owner;

GRANT SELECT,INSERT ON TABLE public.user_interaction TO recodb_owner;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE recodb.slate TO recodb_owner;

GRANT SELECT ON TABLE public.users TO recodb_owner;

GRANT SELECT ON TABLE recodb.model TO recodb_owner;

GRANT SELECT ON TABLE recodb.setting TO recodb_owner;

GRANT SELECT ON TABLE recodb.installed_object TO recodb_owner;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE recodb.replica_slate TO recodb_owner;

GRANT SELECT ON TABLE recodb.synthetic_dataset TO recodb_owner;

GRANT SELECT ON TABLE recodb.synthetic_post TO recodb_owner;

GRANT SELECT ON TABLE recodb.synthetic_user TO recodb_owner;
