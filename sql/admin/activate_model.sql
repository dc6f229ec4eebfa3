-- requires: 0003
-- Make p_version the active model, in one transaction: readers see the old model or the new
-- one, never both, and are never blocked (activation only updates registry rows).
create or replace function recodb.activate_model(p_version integer)
returns integer
language plpgsql
set search_path = pg_catalog, recodb, pg_temp
as $$
declare
    v_status text;
begin
    -- One switch at a time.
    perform pg_advisory_xact_lock(pg_catalog.hashtext('recodb.activate_model'));
    select status into v_status from recodb.model where version = p_version for update;
    if v_status is null then
        raise exception 'model version % does not exist', p_version using errcode = '22023';
    end if;
    if v_status = 'active' then
        return p_version;
    end if;
    if v_status not in ('ready', 'retired') then
        raise exception 'model version % is %; only a ready or retired version can be activated',
            p_version, v_status using errcode = '22023';
    end if;
    if recodb.model_table('post', p_version) is null
       or recodb.model_table('user', p_version) is null then
        raise exception 'the vectors of model version % are gone', p_version
            using errcode = '22023';
    end if;
    update recodb.model set status = 'retired' where status = 'active';
    update recodb.model set status = 'active', activated_at = now() where version = p_version;
    return p_version;
end
$$;

comment on function recodb.activate_model(integer) is
    'Activates model version p_version (ready or retired) atomically; returns it';

revoke execute on function recodb.activate_model(integer) from public;
