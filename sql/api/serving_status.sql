-- requires: 0004
-- What is serving right now, for health checks and response metadata: the active model's
-- version, the end of its training window and when it was activated. No row when no model is
-- active (the feed is then trending and fresh posts only).
create or replace function recodb.serving_status()
returns table (
    model_version integer,
    model_trained_to timestamptz,
    model_activated_at timestamptz
)
language sql
stable
security definer
set search_path = pg_catalog, recodb, pg_temp
as $$
    select m.version, m.trained_to, m.activated_at
    from recodb.model m
    where m.status = 'active'
$$;

comment on function recodb.serving_status() is
    'The active model: (model_version, model_trained_to, model_activated_at); no row when none';

revoke execute on function recodb.serving_status() from public;
grant execute on function recodb.serving_status() to recodb_feed_reader, recodb_tracker;
