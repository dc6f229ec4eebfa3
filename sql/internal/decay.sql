-- requires: 0002
-- 0.5 ^ (age / half-life): the weight of something `p_age_seconds` old. Safe for any input a
-- real table holds: a future timestamp (negative age, clock skew) weighs 1, and the exponent
-- stops at 1,000 half-lives (weight 9.3e-302), because PostgreSQL raises "value out of range:
-- underflow" where the exact value is below the smallest double (a post from 1970 would
-- otherwise take every feed down). A null or non-positive half-life means no decay.
create or replace function recodb.decay(p_age_seconds double precision,
                                        p_half_life_seconds double precision)
returns double precision
language sql
immutable
parallel safe
-- No SET clause, so that the planner inlines it into the queries that call it (it names only
-- pg_catalog functions, qualified; operators resolve on the caller's fixed search_path).
as $$
    select case when p_half_life_seconds is null or p_half_life_seconds <= 0 then 1
                else pg_catalog.power(0.5, least(greatest(coalesce(p_age_seconds, 0), 0)
                                                 / p_half_life_seconds, 1000)) end
$$;

comment on function recodb.decay(double precision, double precision) is
    'Internal: 0.5 ^ (age / half-life), clamped to [9.3e-302, 1] for any age';

revoke execute on function recodb.decay(double precision, double precision) from public;
