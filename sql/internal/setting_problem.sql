-- requires: 0004
-- What is wrong with a setting's value, in one line naming the key, the bound and the value
-- (long values cut short), or null when the value fits its definition (see migration 0005):
--   weights   a JSON object with exactly the keys of p_default, each 0 or a number within
--             [p_min, p_max], not all 0
--   positive  a number within [p_min, p_max]
--   whole     a whole number within [p_min, p_max]
-- A null bound is not checked (a database downgraded below 0005 has none): then positive
-- means > 0 and whole means >= 1, as in 0004. The trigger setting_validate and `recodb doctor`
-- both ask this function, so the two can't disagree.
create or replace function recodb.setting_problem(
    p_key text,
    p_value jsonb,
    p_kind text,
    p_min numeric,
    p_max numeric,
    p_default jsonb
)
returns text
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
as $$
declare
    v_key text := case when length(p_key) > 60 then left(p_key, 60) || '…' else p_key end;
    v_shown text := case when length(p_value::text) > 60 then left(p_value::text, 60) || '…'
                         else p_value::text end;
    v_range text := concat(case when p_min is not null then format(' >= %s', p_min) end,
                           case when p_max is not null then format(' <= %s', p_max) end);
    v_expected text[];
    v_got text[];
    v_entry record;
    v_number numeric;
begin
    if p_min is not null and p_max is not null then
        v_range := format(' between %s and %s', p_min, p_max);
    end if;
    if p_kind = 'weights' then
        select array_agg(k order by k) into v_expected from jsonb_object_keys(p_default) k;
        if jsonb_typeof(p_value) = 'object' then
            select array_agg(k order by k) into v_got from jsonb_object_keys(p_value) k;
        end if;
        if jsonb_typeof(p_value) <> 'object' or v_got is distinct from v_expected then
            return format('setting %s must be a JSON object with exactly the keys %s, got %s',
                          v_key, array_to_string(v_expected, ', '), v_shown);
        end if;
        for v_entry in select e.key, e.value from jsonb_each(p_value) e order by e.key loop
            if jsonb_typeof(v_entry.value) = 'number' then
                v_number := v_entry.value::numeric;
            end if;
            if jsonb_typeof(v_entry.value) <> 'number' or v_number < 0
               or (v_number <> 0 and (v_number < p_min or v_number > p_max)) then
                return format('setting %s: %s must be 0 or a number%s, got %s', v_key,
                              v_entry.key, coalesce(nullif(v_range, ''), ' > 0'),
                              case when length(v_entry.value::text) > 60
                                   then left(v_entry.value::text, 60) || '…'
                                   else v_entry.value::text end);
            end if;
        end loop;
        if (select sum(e.value::numeric) from jsonb_each_text(p_value) e) = 0 then
            return format('setting %s: the weights must not all be 0', v_key);
        end if;
        return null;
    elsif p_kind in ('positive', 'whole') then
        if jsonb_typeof(p_value) = 'number' then
            v_number := p_value::numeric;
        end if;
        if v_number is null
           or v_number < coalesce(p_min, case p_kind when 'whole' then 1 end)
           or (p_min is null and p_kind = 'positive' and v_number <= 0)
           or v_number > p_max
           or (p_kind = 'whole' and v_number <> trunc(v_number)) then
            return format('setting %s must be %s%s, got %s', v_key,
                          case p_kind when 'whole' then 'a whole number' else 'a number' end,
                          coalesce(nullif(v_range, ''),
                                   case p_kind when 'whole' then ' >= 1' else ' > 0' end),
                          v_shown);
        end if;
        return null;
    end if;
    return format('setting %s has an unknown kind %s', v_key, coalesce(p_kind, 'null'));
end
$$;

comment on function recodb.setting_problem(text, jsonb, text, numeric, numeric, jsonb) is
    'Internal: why a setting value does not fit its kind and bounds (one line), or null';

revoke execute on function recodb.setting_problem(text, jsonb, text, numeric, numeric, jsonb)
    from public;
