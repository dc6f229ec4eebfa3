-- requires: 0004
-- The posts whose collaborative vectors are nearest to p_post_id's by cosine, in the active
-- model (HNSW index), best first, ties by id. similarity = max(0, cosine) lies in [0, 1].
-- An unknown post, a post without a vector, or no active model give no rows.
create or replace function recodb.similar_posts(p_post_id uuid, p_limit integer default 20)
returns table (post_id uuid, similarity double precision)
language sql
stable
security definer
set search_path = pg_catalog, recodb, pg_temp
as $$
    select n.id, n.similarity from recodb.cosine_neighbours('post', p_post_id, p_limit) n
$$;

comment on function recodb.similar_posts(uuid, integer) is
    'Up to p_limit posts nearest to p_post_id by cosine of collaborative vectors: '
    '(post_id, similarity in [0, 1]), best first, ties by post_id';

revoke execute on function recodb.similar_posts(uuid, integer) from public;
grant execute on function recodb.similar_posts(uuid, integer)
    to recodb_feed_reader, recodb_tracker;
