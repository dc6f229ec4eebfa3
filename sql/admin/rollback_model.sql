-- requires: 0003
-- Re-activate the model that was active before the current one.
create or replace function recodb.rollback_model()
returns integer
language plpgsql
set search_path = pg_catalog, recodb, pg_temp
as $$
declare
    v_previous integer;
begin
    perform pg_advisory_xact_lock(pg_catalog.hashtext('recodb.activate_model'));
    select version into v_previous
    from recodb.model
    where status = 'retired' and activated_at is not null
    order by activated_at desc, version desc
    limit 1;
    if v_previous is null then
        raise exception 'there is no previously active model version to roll back to'
            using errcode = '22023';
    end if;
    return recodb.activate_model(v_previous);
end
$$;

comment on function recodb.rollback_model() is
    'Re-activates the most recently active retired model version; returns it';

revoke execute on function recodb.rollback_model() from public;
