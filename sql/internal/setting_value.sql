-- requires: 0002
-- Internal helper: a setting's value. Not granted to the feed roles.
create or replace function recodb.setting_value(p_key text)
returns jsonb
language sql
stable
set search_path = pg_catalog, recodb, pg_temp
as $$
    select value from recodb.setting where key = p_key
$$;

comment on function recodb.setting_value(text) is
    'The jsonb value of setting p_key, or null when there is no such setting';

revoke execute on function recodb.setting_value(text) from public;
