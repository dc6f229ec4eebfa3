-- requires: 0004
-- The personalised feed. Offset 0 computes a slate of `slate_size` posts (or as many as the
-- page needs), stores it in user_recommendation (with an expiry) and returns its first page; a
-- later page reads the stored slate, so page 2 never repeats page 1 and costs one index scan.
-- A page beyond the slate's end extends it (up to 500 posts a session) with posts that rank
-- after all it holds. The scoring is in fill_slate.sql.
--
-- Candidates, each tagged with the source that brought it (its `reason`):
--   collaborative_filtering  the user's nearest posts by inner product (HNSW), and posts that
--                            the user's nearest users (cosine, HNSW) recently liked
--   following                fresh posts from authors the user follows
--   content                  posts nearest to the user's content profile (HNSW)
--   fresh                    fresh posts from the most popular authors
-- (fresh: newer than the active model, or than fresh_post_hours, whichever reaches further)
--   trending                 the trending posts (materialized view)
-- Score = (w_c·collaborative + w_t·content + w_r·recency) / (w_c + w_t + w_r), the weights
-- from setting blend_weights; every part lies in [0, 1]:
--   collaborative  inner product / the slate's best, or the neighbours' support / the best,
--                  or 0.5 for a followed author's post; for a user without a vector, the
--                  post's trending velocity / the best
--   content        max(0, cosine(user profile, post text vector))
--   recency        0.5 ^ (age / recency_half_life_hours)
-- The user's vector is their trained one plus their interactions since the model was trained,
-- folded in with (Y'Y + λI)⁻¹ Σ (1 + α·w) y: a new user's feed follows what they touch at once.
create or replace function recodb.recommend(
    p_user_id uuid,
    p_limit integer default 50,
    p_offset integer default 0,
    p_exclude_seen boolean default true
)
returns table (post_id uuid, score double precision, reason text)
language plpgsql
volatile
security definer
set search_path = recodb, public, pg_temp
as $$
declare
    v_settings jsonb;
    v_version integer;
    v_stored integer := 0;
    v_wanted integer;
    v_exclude uuid[] := '{}';
    v_ceiling double precision := 1;
begin
    if p_user_id is null then
        raise exception 'p_user_id must not be null' using errcode = '22023';
    end if;
    if p_limit is null or p_limit < 1 or p_limit > 500 then
        raise exception 'p_limit must be between 1 and 500, got %', p_limit using errcode = '22023';
    end if;
    if p_offset is null or p_offset < 0 then
        raise exception 'p_offset must be >= 0, got %', p_offset using errcode = '22023';
    end if;
    if p_exclude_seen is null then
        raise exception 'p_exclude_seen must not be null' using errcode = '22023';
    end if;

    if not exists (select from users u where u.id = p_user_id) then
        raise exception 'unknown user %', p_user_id using errcode = '22023';
    end if;

    if p_offset > 0 then
        select count(*) into v_stored
        from user_recommendation r
        where r.user_id = p_user_id and r.expires_at > now();
    end if;
    -- A feed session holds at most 500 posts; a page within the stored slate is one index scan.
    v_wanted := least(500, p_offset + p_limit);
    if p_offset = 0 or v_stored = 0 or (v_stored < v_wanted and v_stored < 500) then
        select jsonb_object_agg(s.key, s.value) into v_settings from recodb.setting s;
        select m.version into v_version from recodb.model m where m.status = 'active';
        if p_exclude_seen then
            select coalesce(array_agg(distinct i.post_id), '{}') into v_exclude
            from user_interaction i where i.user_id = p_user_id;
        end if;
        -- One slate per user at a time.
        perform pg_advisory_xact_lock(hashtextextended(p_user_id::text, 7));
        if p_offset = 0 or v_stored = 0 then
            -- A new slate.
            delete from user_recommendation r where r.user_id = p_user_id;
            v_wanted := greatest((v_settings ->> 'slate_size')::integer, v_wanted);
        else
            -- Continue the slate: the next posts rank after every post already in it.
            delete from user_recommendation r where r.user_id = p_user_id and r.expires_at <= now();
            select coalesce(v_exclude || array_agg(r.post_id), v_exclude), min(r.score)
            into v_exclude, v_ceiling
            from user_recommendation r where r.user_id = p_user_id;
            v_ceiling := v_ceiling * (1 - 1e-9);
            v_wanted := least(500, greatest((v_settings ->> 'slate_size')::integer, v_wanted))
                        - v_stored;
        end if;
        perform recodb.fill_slate(p_user_id, v_version, v_wanted, v_exclude, v_ceiling,
                                  v_settings);
    end if;

    return query
    select r.post_id, r.score, r.reason
    from user_recommendation r
    where r.user_id = p_user_id and r.expires_at > now()
    order by r.score desc, r.post_id
    limit p_limit offset p_offset;
end
$$;

comment on function recodb.recommend(uuid, integer, integer, boolean) is
    'The feed of p_user_id: (post_id, score in [0, 1], reason), best first, ties by post_id. '
    'Offset 0 computes and stores a slate; later offsets page through it, extending it as needed';

revoke execute on function recodb.recommend(uuid, integer, integer, boolean) from public;
grant execute on function recodb.recommend(uuid, integer, integer, boolean)
    to recodb_feed_reader, recodb_tracker;
