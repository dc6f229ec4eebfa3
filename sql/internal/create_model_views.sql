-- requires: 0003
-- A model version's serving views: schema recodb_v<N> with post_vector and user_vector, plain
-- views of the version's tables. The scoring functions put that schema on their search_path
-- (model_search_path()) and name the views unqualified, so their statements are static: each
-- is planned once per connection and version, rather than parsed and planned on every call as
-- dynamic SQL naming the version's tables was (0.81 ms of a 6.99 ms fresh slate at 20k
-- users × 200k posts, 0.49 of 9.37 at 100k × 1M: scripts/ab_functions.py). A simple view is
-- flattened into the query, so the probes use the tables' indexes as before. Only the schema's
-- owner may create in it: a schema of that name made beforehand by another role, or open to
-- others' CREATE, is refused (22023), since anything planted there (an operator or function
-- on uuid[], say) would run inside the serving functions, whatever comes first on their path.
create or replace function recodb.create_model_views(p_version integer)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    v_schema text := recodb.model_schema_name(p_version);
begin
    execute format('create schema if not exists %I', v_schema);
    if exists (select from pg_namespace n
               where n.nspname = v_schema
                 and (n.nspowner <> current_user::regrole
                      or exists (select from aclexplode(n.nspacl) a
                                 where a.privilege_type = 'CREATE'
                                   and a.grantee <> n.nspowner))) then
        raise exception 'schema % belongs to another role or lets others create in it; '
                        'drop it to train model version %', v_schema, p_version
            using errcode = '22023';
    end if;
    execute format('create or replace view %I.post_vector as select * from %s', v_schema,
                   recodb.model_table_name('post', p_version));
    execute format('create or replace view %I.user_vector as select * from %s', v_schema,
                   recodb.model_table_name('user', p_version));
    if to_regrole('recodb_owner') is not null then
        -- The serving functions run as recodb_owner (revision 0006).
        execute format('grant usage on schema %1$I to recodb_owner;'
                       ' grant select on %1$I.post_vector, %1$I.user_vector to recodb_owner',
                       v_schema);
    end if;
end
$$;

comment on function recodb.create_model_views(integer) is
    'Internal: creates schema recodb_v<N> with the views post_vector and user_vector of model '
    'version p_version''s tables, which the scoring functions read';

revoke execute on function recodb.create_model_views(integer) from public;
