-- requires: 0004
-- The posts whose collaborative vectors are nearest to p_post_id's by cosine, in the active
-- model (HNSW index), best first, ties by id. similarity = max(0, cosine) lies in [0, 1].
-- An unknown post, a post without a vector, or no active model give no rows.
create or replace function recodb.similar_posts(p_post_id uuid, p_limit integer default 20)
returns table (post_id uuid, similarity double precision)
language plpgsql
stable
security definer
set search_path = recodb, public, pg_temp
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
    select m.version into v_version from recodb.model m where m.status = 'active';
    if v_version is null or p_post_id is null then
        return;
    end if;
    return query execute format(
        $q$
        select n.post_id, greatest(0, 1 - n.distance)::float8
        from (select v.cf from recodb.%1$I v where v.post_id = $1) q,
             lateral (select v.post_id, v.cf <=> q.cf as distance
                      from recodb.%1$I v
                      where v.cf is not null
                      order by v.cf <=> q.cf
                      limit $2 + 1) n
        where n.post_id <> $1 and q.cf is not null
        order by n.distance, n.post_id
        limit $2
        $q$,
        'post_vector_v' || v_version)
    using p_post_id, p_limit;
end
$$;

comment on function recodb.similar_posts(uuid, integer) is
    'Up to p_limit posts nearest to p_post_id by cosine of collaborative vectors: '
    '(post_id, similarity in [0, 1]), best first, ties by post_id';

revoke execute on function recodb.similar_posts(uuid, integer) from public;
grant execute on function recodb.similar_posts(uuid, integer)
    to recodb_feed_reader, recodb_tracker;
