-- requires: 0004
-- Rejects a settings row whose value does not fit its kind, so a typo can't silently change
-- the feed. Raises SQLSTATE 22023 (invalid_parameter_value) naming the key.
--   weights   a JSON object of numbers >= 0, not all 0, with the same keys as before
--   positive  a number > 0
--   whole     a whole number >= 1
create or replace function recodb.setting_validate()
returns trigger
language plpgsql
set search_path = recodb, pg_temp
as $$
declare
    v_key text;
begin
    if new.kind is null then
        raise exception 'unknown setting %: a new setting needs a kind (weights, positive, whole)',
            new.key using errcode = '22023';
    end if;
    if new.kind = 'weights' then
        if jsonb_typeof(new.value) <> 'object' then
            raise exception 'setting %: expected a JSON object', new.key using errcode = '22023';
        end if;
        if tg_op = 'UPDATE' and (select array_agg(k order by k) from jsonb_object_keys(new.value) k)
                is distinct from (select array_agg(k order by k) from jsonb_object_keys(old.value) k)
        then
            raise exception 'setting %: expected exactly the keys %, got %', new.key,
                (select array_agg(k order by k) from jsonb_object_keys(old.value) k),
                (select array_agg(k order by k) from jsonb_object_keys(new.value) k)
                using errcode = '22023';
        end if;
        for v_key in select jsonb_object_keys(new.value) loop
            if jsonb_typeof(new.value -> v_key) <> 'number' or (new.value ->> v_key)::numeric < 0 then
                raise exception 'setting %: % must be a number >= 0, got %',
                    new.key, v_key, new.value -> v_key using errcode = '22023';
            end if;
        end loop;
        if (select sum(value::numeric) from jsonb_each_text(new.value)) = 0 then
            raise exception 'setting %: the weights must not all be 0', new.key
                using errcode = '22023';
        end if;
    elsif jsonb_typeof(new.value) <> 'number' then
        raise exception 'setting %: expected a number, got %', new.key, new.value
            using errcode = '22023';
    elsif new.kind = 'positive' and new.value::numeric <= 0 then
        raise exception 'setting %: expected a number > 0, got %', new.key, new.value
            using errcode = '22023';
    elsif new.kind = 'whole'
          and (new.value::numeric < 1 or new.value::numeric <> trunc(new.value::numeric)) then
        raise exception 'setting %: expected a whole number >= 1, got %', new.key, new.value
            using errcode = '22023';
    end if;
    new.updated_at := now();
    return new;
end
$$;

comment on function recodb.setting_validate() is
    'Trigger: validates recodb.setting values by kind; raises 22023 on a malformed value';

revoke execute on function recodb.setting_validate() from public;

create or replace trigger setting_validate
    before insert or update on recodb.setting
    for each row execute function recodb.setting_validate();
