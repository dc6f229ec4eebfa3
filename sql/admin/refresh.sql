-- requires: 0008
-- Keep the engine's derived data current, in steps that each return their duration:
--   engagement      what arrived since the last refresh: the (post, user, type) triples whose
--                   first transaction finished before this refresh's snapshot and after the
--                   last one's (recodb.refresh_state.engagement_xid) are added to
--                   post_engagement, their authors' popularity and their users' recent likes.
--                   So a refresh costs what happened since the last one, not all of history.
--                   After a delete or update of interactions, or a change of
--                   interaction_weights, it is a full recompute instead; either way the numbers
--                   are exactly those of a full recompute.
--   trending_post   recomputed from the trending window (a covering index of engagement by
--                   time), deleted and inserted in this transaction: readers see the old rows or
--                   the new, and are never blocked
--   fresh_post      the materialized view of the fresh window, refreshed concurrently
--   new post vectors  see post_vectors()
--   expired slates  deleted, skipping any a session holds (refresh never waits on a client)
-- Runs one at a time: a second caller waits. Security definer, so that a refresher role needs
-- only EXECUTE on it (the tables and views belong to recodb_owner).
create or replace function recodb.refresh()
returns table (step text, seconds double precision)
language plpgsql
security definer
set search_path = pg_catalog, recodb, pg_temp
as $$
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

comment on function recodb.refresh() is
    'Advances engagement counts, author popularity and recent likes by what arrived since the '
    'last refresh (a full recompute when needed), refreshes trending_post and fresh_post '
    'concurrently, gives new posts vectors and deletes expired slates; returns (step, seconds)';

revoke execute on function recodb.refresh() from public;
