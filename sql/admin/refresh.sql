-- requires: 0004
-- Refresh the engagement views (concurrently: readers are never blocked) and delete expired
-- feed slates. Returns each step and its duration. Runs one at a time: a second caller waits.
create or replace function recodb.refresh()
returns table (step text, seconds double precision)
language plpgsql
set search_path = recodb, public, pg_temp
as $$
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

comment on function recodb.refresh() is
    'Refreshes the engagement views concurrently (post_engagement, trending_post, '
    'author_popularity, fresh_post, user_recent_likes) and deletes expired '
    'user_recommendation rows; returns (step, seconds)';

revoke execute on function recodb.refresh() from public;
