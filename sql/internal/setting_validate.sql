-- requires: 0004
-- Trigger on recodb.setting: a value that does not fit its key's definition is refused with
-- SQLSTATE 22023 (invalid_parameter_value) and a one-line message naming the key, the bound and
-- the value (recodb.setting_problem), so that no accepted setting can take serving down.
-- A key's definition (kind, bounds, default, description) is fixed by the migrations: an update
-- may change `value` only (changing `kind` in the same statement used to skip validation), and
-- an insert of a key that does not exist is refused. Migrations that add a key disable the
-- table's user triggers around their insert. Whole numbers are stored without a fraction
-- (1e2 and 100.0 become 100), so that `value ->> 0 :: integer` always works.
create or replace function recodb.setting_validate()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    v_new jsonb := to_jsonb(new);
    v_old jsonb;
    v_column text;
    v_problem text;
    v_key text := case when length(new.key) > 60 then left(new.key, 60) || '…' else new.key end;
begin
    if tg_op = 'INSERT' then
        if not exists (select from recodb.setting s where s.key = new.key) then
            raise exception 'unknown setting %: settings are defined by recodb''s migrations',
                v_key using errcode = '22023';
        end if;
        -- The key exists: the insert conflicts (an upsert's update comes back here as UPDATE).
        return new;
    end if;

    v_old := to_jsonb(old);
    if new.key is distinct from old.key then
        raise exception 'setting %: a key can''t be renamed', old.key using errcode = '22023';
    end if;
    for v_column in select k from jsonb_object_keys(v_old) k
                    where k not in ('value', 'updated_at') order by k loop
        if v_new -> v_column is distinct from v_old -> v_column then
            raise exception 'setting %: only its value may change, not %', old.key, v_column
                using errcode = '22023';
        end if;
    end loop;

    -- (to_jsonb reads the bounds, so the trigger also works below revision 0005.)
    v_problem := recodb.setting_problem(new.key, new.value, new.kind,
                                        (v_new ->> 'min_value')::numeric,
                                        (v_new ->> 'max_value')::numeric,
                                        coalesce(v_new -> 'default_value', old.value));
    if v_problem is not null then
        raise exception '%', v_problem using errcode = '22023';
    end if;
    if new.kind = 'whole' then
        new.value := to_jsonb(trunc(new.value::numeric));
    end if;
    new.updated_at := now();
    return new;
end
$$;

comment on function recodb.setting_validate() is
    'Trigger: refuses unknown keys, changes to a key''s definition, and values outside its kind '
    'and bounds (SQLSTATE 22023)';

revoke execute on function recodb.setting_validate() from public;

create or replace trigger setting_validate
    before insert or update on recodb.setting
    for each row execute function recodb.setting_validate();
