-- requires: 0003
-- Drop a model version's serving views (create_model_views()), then their schema when nothing
-- else is in it: a schema of that name that holds more (create_model_views() refuses one it
-- did not make) keeps what it holds. drop_model_tables() and migration 0011's downgrade call it.
create or replace function recodb.drop_model_views(p_version integer)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    v_schema text := recodb.model_schema_name(p_version);
begin
    if to_regnamespace(v_schema) is null then
        return;
    end if;
    execute format('drop view if exists %1$I.post_vector, %1$I.user_vector', v_schema);
    begin
        execute format('drop schema %I', v_schema);  -- restrict
    exception when dependent_objects_still_exist or insufficient_privilege then
        null;
    end;
end
$$;

comment on function recodb.drop_model_views(integer) is
    'Internal: drops model version p_version''s serving views, and their schema when it holds '
    'nothing else';

revoke execute on function recodb.drop_model_views(integer) from public;
