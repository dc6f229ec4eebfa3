-- requires: 0004
-- The body of similar_posts() and similar_users(): the p_kind ('post' or 'user') rows of the
-- active model whose collaborative vectors are nearest to p_id's by cosine (HNSW), best first,
-- ties by id, with similarity = max(0, cosine) in [0, 1]. No rows for an unknown id, an id
-- without a vector, or no active model. p_limit must lie in 1..500 (22023 otherwise).
create or replace function recodb.cosine_neighbours(p_kind text, p_id uuid, p_limit integer)
returns table (id uuid, similarity double precision)
language plpgsql
stable
set search_path = pg_catalog, recodb, pg_temp
-- Iterative scans keep reading the graph until the limit is met, however large.
set hnsw.iterative_scan = strict_order
set hnsw.ef_search = 100
as $$
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
$$;

comment on function recodb.cosine_neighbours(text, uuid, integer) is
    'Internal: nearest posts or users of the active model by cosine, (id, similarity in [0, 1])';

revoke execute on function recodb.cosine_neighbours(text, uuid, integer) from public;
