-- requires: 0003
-- Drop a version's tables (prune, reseeding). The registry row is the caller's business.
create or replace function recodb.drop_model_tables(p_version integer)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
    execute format('drop table if exists %s, %s', recodb.model_table_name('post', p_version),
                   recodb.model_table_name('user', p_version));
end
$$;

comment on function recodb.drop_model_tables(integer) is
    'Internal: drops model version p_version''s vector tables, if they exist';

revoke execute on function recodb.drop_model_tables(integer) from public;
