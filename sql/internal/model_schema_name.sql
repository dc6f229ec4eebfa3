-- requires: 0003
-- The schema of a model version's serving views: recodb_v<N>, holding post_vector and
-- user_vector, views of recodb.post_vector_v<N> and recodb.user_vector_v<N> (see
-- create_model_views() and model_search_path()).
create or replace function recodb.model_schema_name(p_version integer)
returns text
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
    select 'recodb_v' || p_version
$$;

comment on function recodb.model_schema_name(integer) is
    'Internal: the schema of model version p_version''s serving views (recodb_v<N>)';

revoke execute on function recodb.model_schema_name(integer) from public;
