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
    return query
    select n.id, n.similarity
    from recodb.cosine_neighbours('post_vector_v' || v_version, 'post_id', p_post_id, p_limit) n;
end
$$;

comment on function recodb.similar_posts(uuid, integer) is
    'Up to p_limit posts nearest to p_post_id by cosine of collaborative vectors: '
    '(post_id, similarity in [0, 1]), best first, ties by post_id';

revoke execute on function recodb.similar_posts(uuid, integer) from public;
grant execute on function recodb.similar_posts(uuid, integer)
    to recodb_feed_reader, recodb_tracker;
