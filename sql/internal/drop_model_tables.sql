-- requires: 0003
-- Drop a version's tables (prune, reseeding); the registry row is the caller's business.
-- Readers of model tables (recommend(), the neighbour functions) hold the shared advisory lock
-- 'recodb.model_tables' for their transaction, from before they look the active version up;
-- this takes it exclusively first, so that no reader can be between reading a version's number
-- and probing its tables when they go (a reader sees an error neither from a prune nor from a
-- deadlock). It never waits on a client: it tries for p_wait_seconds and, when a session still
-- holds the lock (a transaction left open), drops nothing and returns false.
create or replace function recodb.drop_model_tables(p_version integer,
                                                    p_wait_seconds double precision default 5)
returns boolean
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    v_until timestamptz := clock_timestamp() + make_interval(secs => p_wait_seconds);
begin
    while not pg_try_advisory_xact_lock(pg_catalog.hashtext('recodb.model_tables')) loop
        if clock_timestamp() >= v_until then
            return false;
        end if;
        perform pg_sleep(0.02);
    end loop;
    perform recodb.drop_model_views(p_version);  -- they depend on the tables
    execute format('drop table if exists %s, %s, %s', recodb.model_table_name('post', p_version),
                   recodb.model_table_name('user', p_version),
                   recodb.model_table_name('term', p_version));
    return true;
end
$$;

comment on function recodb.drop_model_tables(integer, double precision) is
    'Internal: drops model version p_version''s vector tables once no reader uses them; false '
    'when readers held them for p_wait_seconds';

revoke execute on function recodb.drop_model_tables(integer, double precision) from public;
