-- requires: 0004
-- Internal to similar_posts() and similar_users(): the rows of a model vector table whose
-- collaborative vectors are nearest to p_id's by cosine (HNSW), best first, ties by id, with
-- similarity = max(0, cosine). No rows for an unknown id or one without a vector.
create or replace function recodb.cosine_neighbours(
    p_table text,
    p_key text,
    p_id uuid,
    p_limit integer
)
returns table (id uuid, similarity double precision)
language plpgsql
stable
set search_path = recodb, public, pg_temp
-- Iterative scans keep reading the graph until the limit is met, however large.
set hnsw.iterative_scan = strict_order
set hnsw.ef_search = 100
as $$
begin
    return query execute format(
        $q$
        select n.id, greatest(0, 1 - n.distance)::float8
        from (select v.cf from recodb.%1$I v where v.%2$I = $1) q,
             lateral (select v.%2$I as id, v.cf <=> q.cf as distance
                      from recodb.%1$I v
                      where v.cf is not null
                      order by v.cf <=> q.cf
                      limit $2 + 1) n
        where n.id <> $1 and q.cf is not null
        order by n.distance, n.id
        limit $2
        $q$,
        p_table, p_key)
    using p_id, p_limit;
end
$$;

comment on function recodb.cosine_neighbours(text, text, uuid, integer) is
    'Internal: nearest rows of a model vector table by cosine, (id, similarity in [0, 1])';

revoke execute on function recodb.cosine_neighbours(text, text, uuid, integer) from public;
