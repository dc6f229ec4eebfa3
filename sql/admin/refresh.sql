-- requires: 0006
-- Refresh the engagement views (concurrently: readers are never blocked), give new posts their
-- vectors (post_vectors()) and delete expired slates
-- (skipping any that a session has locked: refresh never waits on a client). Returns each step
-- and its duration. Runs one at a time: a second caller waits. Security definer, so that a
-- refresher role needs only EXECUTE on it (the views belong to recodb_owner).
create or replace function recodb.refresh()
returns table (step text, seconds double precision)
language plpgsql
security definer
set search_path = pg_catalog, recodb, pg_temp
as $$
declare
    v_started timestamptz;
    v_view text;
begin
    perform pg_advisory_xact_lock(pg_catalog.hashtext('recodb.refresh'));
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
    perform recodb.post_vectors();
    step := 'new post vectors';
    seconds := extract(epoch from clock_timestamp() - v_started);
    return next;

    v_started := clock_timestamp();
    delete from recodb.slate s
    where s.user_id in (select e.user_id from recodb.slate e where e.expires_at <= now()
                        for update skip locked);
    step := 'expired slates';
    seconds := extract(epoch from clock_timestamp() - v_started);
    return next;
end
$$;

comment on function recodb.refresh() is
    'Refreshes the engagement views concurrently (post_engagement, trending_post, '
    'author_popularity, fresh_post, user_recent_likes), gives new posts vectors and deletes '
    'expired slates; returns (step, seconds)';

revoke execute on function recodb.refresh() from public;
