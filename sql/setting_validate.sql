-- requires: 0002
-- Rejects a settings row whose value has the wrong shape, so a typo can't silently change the
-- feed. Raises SQLSTATE 22023 (invalid_parameter_value) naming the key. A key's rule follows
-- from its name (…_hours: a positive number; …_versions: a whole number), so a migration can
-- add a setting before this function is re-applied at the end of the upgrade.
create or replace function recodb.setting_validate()
returns trigger
language plpgsql
as $$
declare
    v_keys text[];
    v_expected text[];
    v_key text;
begin
    if new.key in ('interaction_weights', 'blend_weights') then
        v_expected := case new.key
            when 'interaction_weights' then array['click', 'comment', 'like', 'share', 'view']
            else array['collaborative', 'content', 'recency']
        end;
        if jsonb_typeof(new.value) <> 'object' then
            raise exception 'setting %: expected a JSON object', new.key using errcode = '22023';
        end if;
        select array_agg(k order by k) into v_keys from jsonb_object_keys(new.value) as k;
        if v_keys is distinct from v_expected then
            raise exception 'setting %: expected exactly the keys %, got %',
                new.key, v_expected, v_keys using errcode = '22023';
        end if;
        foreach v_key in array v_keys loop
            if jsonb_typeof(new.value -> v_key) <> 'number' or (new.value ->> v_key)::numeric < 0 then
                raise exception 'setting %: % must be a number >= 0, got %',
                    new.key, v_key, new.value -> v_key using errcode = '22023';
            end if;
        end loop;
        if (select sum(value::numeric) from jsonb_each_text(new.value)) = 0 then
            raise exception 'setting %: the weights must not all be 0', new.key
                using errcode = '22023';
        end if;
    elsif new.key ~ '_(hours|days|seconds)$' then
        if jsonb_typeof(new.value) <> 'number' or new.value::numeric <= 0 then
            raise exception 'setting %: expected a number > 0, got %', new.key, new.value
                using errcode = '22023';
        end if;
    elsif new.key ~ '_(versions|count|per_page)$' then
        if jsonb_typeof(new.value) <> 'number' or new.value::numeric < 1
           or new.value::numeric <> trunc(new.value::numeric) then
            raise exception 'setting %: expected a whole number >= 1, got %', new.key, new.value
                using errcode = '22023';
        end if;
    else
        -- Keys are known by their shape; anything else is a typo.
        raise exception 'unknown setting %', new.key using errcode = '22023';
    end if;
    new.updated_at := now();
    return new;
end
$$;

comment on function recodb.setting_validate() is
    'Trigger: validates recodb.setting values by key; raises 22023 on a malformed value';

create or replace trigger setting_validate
    before insert or update on recodb.setting
    for each row execute function recodb.setting_validate();
