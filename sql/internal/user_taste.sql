-- requires: 0006
-- A user's vectors for serving under model p_version: the trained ones plus what they did
-- since the model was trained, folded in, so a newcomer's feed follows what they touch at once.
--   cf       trained cf + M · Σ (1 + α·w) y over the posts touched since (M = (Y'Y + λI)⁻¹, stored
--            with the model). This approximates implicit's exact user solve: it uses the
--            confidence 1 + α·w as a plain weight and drops the Σ (c − 1) y yᵀ term of the
--            normal equations, so it is exact only for a user with no history; good enough to
--            turn a feed towards what was just liked, and redone exactly at the next training.
--   content  the trained text profile (a unit vector) plus the w-weighted mean of the text
--            vectors touched since: old taste and new weigh alike.
-- Both are null for a user the model never saw who has touched nothing with a vector since.
create or replace function recodb.user_taste(
    p_user_id uuid,
    p_version integer,
    p_weights jsonb,
    out cf public.vector,
    out content public.vector
)
language plpgsql
stable
set search_path = pg_catalog, recodb, pg_temp
set plan_cache_mode = force_generic_plan  -- plans kept per connection, see slate_parts
as $$
declare
    v_model recodb.model;
    v_posts uuid[];
    v_weights real[];
    v_sum public.vector;
    v_content_sum public.vector;
    v_content_weight double precision;
    v_folded real[];
    v_alpha real;
begin
    select * into v_model from recodb.model m where m.version = p_version;
    if v_model.version is null then
        return;
    end if;
    -- user_vector and post_vector below are the version's (model_search_path()).
    perform pg_catalog.set_config('search_path', recodb.model_search_path(p_version), true);
    select u.cf, u.content into cf, content from user_vector u where u.user_id = p_user_id;

    -- What they touched since the model's data ends (the newest 200), weighted by type.
    select array_agg(r.post_id), array_agg(r.w)
    into v_posts, v_weights
    from (select i.post_id, coalesce((p_weights ->> i.interaction_type)::real, 0) as w
          from public.user_interaction i
          where i.user_id = p_user_id and i.created_at > v_model.trained_to
          order by i.created_at desc
          limit 200) r
    where r.w > 0;
    if v_posts is null then
        return;
    end if;
    v_alpha := coalesce((v_model.params ->> 'alpha')::real, 0);

    select public.sum(v.cf OPERATOR(public.*)
                      array_fill((1 + v_alpha * t.w)::real, array[v_model.factors])::public.vector),
           public.sum(v.content OPERATOR(public.*)
                      array_fill(t.w, array[public.vector_dims(v.content)])::public.vector)
               filter (where v.content is not null),
           sum(t.w) filter (where v.content is not null)
    into v_sum, v_content_sum, v_content_weight
    from unnest(v_posts, v_weights) as t(post_id, w)
    join post_vector v on v.post_id = t.post_id
    where v.cf is not null;

    if v_sum is not null then
        if v_model.fold_in is null then
            v_folded := v_sum::real[];  -- BPR: no closed form; the sum points the same way
        else
            select array_agg(x.value order by x.r)
            into v_folded
            from (select r.r, sum(v_model.fold_in[r.r * v_model.factors + c.c + 1] * s.elem[c.c + 1])
                              as value
                  from (select v_sum::real[] as elem) s,
                       generate_series(0, v_model.factors - 1) r(r),
                       generate_series(0, v_model.factors - 1) c(c)
                  group by r.r) x;
        end if;
        cf := case when cf is null then v_folded::public.vector
                   else cf OPERATOR(public.+) v_folded::public.vector end;
    end if;
    if v_content_sum is not null then
        v_content_sum := v_content_sum OPERATOR(public.*)
            array_fill((1 / v_content_weight)::real,
                       array[public.vector_dims(v_content_sum)])::public.vector;
        content := case when content is null then v_content_sum
                        else content OPERATOR(public.+) v_content_sum end;
    end if;
end
$$;

comment on function recodb.user_taste(uuid, integer, jsonb) is
    'Internal: a user''s cf and content vectors under a model, trained plus folded-in interactions';

revoke execute on function recodb.user_taste(uuid, integer, jsonb) from public;
