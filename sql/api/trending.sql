-- requires: 0004
-- Trending posts from the materialized view recodb.trending_post (refreshed by
-- recodb.refresh()): engagement velocity scaled by the top post's, so scores lie in (0, 1].
create or replace function recodb.trending(p_limit integer default 50, p_offset integer default 0)
returns table (post_id uuid, score double precision)
language plpgsql
stable
security definer
set search_path = pg_catalog, recodb, pg_temp
as $$
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

comment on function recodb.trending(integer, integer) is
    'Trending posts: (post_id, score in (0, 1]) by engagement velocity as of the last refresh, '
    'best first, ties by post_id';

revoke execute on function recodb.trending(integer, integer) from public;
grant execute on function recodb.trending(integer, integer)
    to recodb_feed_reader, recodb_tracker;
