-- requires: 0003
-- The search_path under which a scoring function reads model version p_version's vectors by
-- the unqualified names post_vector and user_vector (create_model_views()); the function sets
-- it with set_config(…, true) under its own `set search_path`, which restores the path on exit.
-- pg_temp comes last, so a caller's temporary table never stands in for a view; and since a
-- missing view would let the name fall through to pg_temp, a version without its views is an
-- error here (SQLSTATE 55000) rather than a lookup elsewhere.
create or replace function recodb.model_search_path(p_version integer)
returns text
language plpgsql
stable
set search_path = pg_catalog, pg_temp
as $$
declare
    v_schema text := recodb.model_schema_name(p_version);
    v_missing text;
begin
    if to_regclass(format('%I.post_vector', v_schema)) is null
       or to_regclass(format('%I.user_vector', v_schema)) is null then
        select string_agg(v.name, ', ') into v_missing
        from unnest(array['post_vector', 'user_vector']) v(name)
        where to_regclass(format('%I.%I', v_schema, v.name)) is null;
        raise exception 'model version % has no serving views: lacks % in schema %',
                        p_version, v_missing, v_schema
            using errcode = '55000', hint = 'Run `recodb migrate`, or retrain.';
    end if;
    return format('pg_catalog, %I, recodb, pg_temp', v_schema);
end
$$;

comment on function recodb.model_search_path(integer) is
    'Internal: the search_path that makes model version p_version''s views post_vector and '
    'user_vector visible unqualified (an error when they are missing)';

revoke execute on function recodb.model_search_path(integer) from public;
