-- requires: 0003
-- Drop the vectors and registry rows of model versions beyond the newest p_keep inactive ones
-- (default: setting keep_model_versions). The active version is always kept; of the failed
-- versions' rows, the newest p_keep are kept. Returns the versions removed.
create or replace function recodb.prune_models(p_keep integer default null)
returns integer[]
language plpgsql
set search_path = pg_catalog, recodb, pg_temp
as $$
declare
    v_keep integer := coalesce(p_keep, (recodb.setting_value('keep_model_versions'))::integer);
    v_version integer;
    v_removed integer[] := '{}';
begin
    if v_keep is null or v_keep < 0 then
        raise exception 'p_keep must be >= 0, got %', v_keep using errcode = '22023';
    end if;
    perform pg_advisory_xact_lock(pg_catalog.hashtext('recodb.activate_model'));
    for v_version in
        select version from recodb.model
        where status in ('ready', 'retired')
        order by version desc
        offset v_keep
    loop
        -- Skipped when readers hold the tables (the next prune takes it).
        if recodb.drop_model_tables(v_version) then
            delete from recodb.model where version = v_version;
            v_removed := v_removed || v_version;
        end if;
    end loop;
    -- Failed versions have no vectors; keep as many of their rows, for the diagnosis.
    with gone as (
        delete from recodb.model
        where version in (select version from recodb.model where status = 'failed'
                          order by version desc offset v_keep)
        returning version
    )
    select v_removed || coalesce(array_agg(version order by version), '{}') into v_removed
    from gone;
    return v_removed;
end
$$;

comment on function recodb.prune_models(integer) is
    'Removes model versions beyond the newest p_keep inactive ones; returns their numbers';

revoke execute on function recodb.prune_models(integer) from public;
