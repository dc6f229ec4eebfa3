-- requires: 0002
-- Posts with the most engagement lately: each interaction weighted by its type
-- (setting interaction_weights) and halved every recency_half_life_hours of its age, over the
-- last 7 days. Score = engagement / the top post's engagement, so it lies in (0, 1].
create or replace function recodb.trending(p_limit integer default 50, p_offset integer default 0)
returns table (post_id uuid, score double precision)
language plpgsql
stable
security definer
set search_path = recodb, public, pg_temp
as $$
declare
    v_weights jsonb := recodb.setting_value('interaction_weights');
    v_half_life_hours double precision := recodb.setting_value('recency_half_life_hours')::float8;
begin
    if p_limit is null or p_limit < 1 or p_limit > 500 then
        raise exception 'p_limit must be between 1 and 500, got %', p_limit using errcode = '22023';
    end if;
    if p_offset is null or p_offset < 0 then
        raise exception 'p_offset must be >= 0, got %', p_offset using errcode = '22023';
    end if;
    return query
    with engagement as (
        select i.post_id,
               sum((v_weights ->> i.interaction_type)::float8
                   * exp(ln(0.5) * extract(epoch from now() - i.created_at) / 3600.0
                         / v_half_life_hours)) as value
        from user_interaction i
        where i.created_at > now() - interval '7 days'
        group by i.post_id
    )
    select e.post_id, e.value / max(e.value) over () as score
    from engagement e
    order by e.value desc, e.post_id
    limit p_limit offset p_offset;
end
$$;

comment on function recodb.trending(integer, integer) is
    'Trending posts: (post_id, score in (0, 1]) by type-weighted, recency-decayed engagement '
    'over the last 7 days, best first, ties by post_id';

revoke execute on function recodb.trending(integer, integer) from public;
