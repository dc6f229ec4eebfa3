-- requires: 0003
-- A model version's post or user vector table (named by model_table_name()), or null when it
-- does not exist (never trained, or pruned).
create or replace function recodb.model_table(p_kind text, p_version integer)
returns regclass
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
    select to_regclass(recodb.model_table_name(p_kind, p_version))
$$;

comment on function recodb.model_table(text, integer) is
    'Internal: a model version''s post or user vector table, or null when it does not exist';

revoke execute on function recodb.model_table(text, integer) from public;
