-- requires: 0004
-- The users whose collaborative vectors are nearest to p_user_id's by cosine, in the active
-- model (HNSW index), best first, ties by id. similarity = max(0, cosine) lies in [0, 1].
-- An unknown user, a user without a vector, or no active model give no rows.
create or replace function recodb.similar_users(p_user_id uuid, p_limit integer default 20)
returns table (user_id uuid, similarity double precision)
language sql
stable
security definer
set search_path = pg_catalog, recodb, pg_temp
as $$
    select n.id, n.similarity from recodb.cosine_neighbours('user', p_user_id, p_limit) n
$$;

comment on function recodb.similar_users(uuid, integer) is
    'Up to p_limit users nearest to p_user_id by cosine of collaborative vectors: '
    '(user_id, similarity in [0, 1]), best first, ties by user_id';

revoke execute on function recodb.similar_users(uuid, integer) from public;
grant execute on function recodb.similar_users(uuid, integer)
    to recodb_feed_reader, recodb_tracker;
