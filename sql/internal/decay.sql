-- requires: 0002
-- 0.5 ^ (age / half-life): the weight of something `p_age_seconds` old. Safe for any input a
-- real table holds: a future timestamp (negative age, clock skew) weighs 1, and the exponent
-- stops at 64 half-lives (weight 5.4e-20), because PostgreSQL raises "value out of range:
-- underflow" where a result is below the smallest double: a post from 1970 took every feed
-- down, and a weight times a score times a slate's ceiling must stay far from that edge too.
-- Past 64 half-lives a post is as good as infinitely old. A null or non-positive half-life
-- means no decay.
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
                                                 / p_half_life_seconds, 64)) end
$$;

comment on function recodb.decay(double precision, double precision) is
    'Internal: 0.5 ^ (age / half-life), clamped to [5.4e-20, 1] for any age';

revoke execute on function recodb.decay(double precision, double precision) from public;
