-- requires: 0007
-- The next p_count posts of a user's slate, best first: (post_ids, scores, reasons) arrays.
-- Computes, never writes, so recommend() can store it, or serve it as it is on a standby.
--   blend  learned: when model p_version has a learned blend (recodb.model.blend, fitted on
--          its validation split) and setting blend_weights_pinned is 0,
--          score = Σ wᵢ · partᵢ / Σ wᵢ over the six parts of slate_parts() (for a user
--          without a vector, trending stands in for collaborative, as in the seed's);
--          seed:    otherwise, score = (w_c · collaborative + w_t · content + w_r · recency)
--          / (w_c + w_t + w_r), the weights from setting blend_weights; collaborative is the
--          best of the inner product, the neighbours' support and 0.5 for a followed author's
--          fresh post, or the trending velocity for a user without a vector.
--          Scores are multiplied by p_ceiling, so that a continuation of a stored slate ranks
--          after everything in it.
--   cap    at most max_posts_per_author posts per author, counting p_placed (the authors of
--          the posts the slate already holds, one entry per post).
--   top-up when the sources run dry, the newest posts fill the rest (reason fresh), so the
--          slate is full whenever enough eligible posts exist.
-- Posts in p_exclude never appear.
create or replace function recodb.compute_slate(
    p_user_id uuid,
    p_version integer,
    p_count integer,
    p_exclude uuid[],
    p_placed uuid[],
    p_ceiling double precision,
    p_settings jsonb,
    out post_ids uuid[],
    out scores double precision[],
    out reasons text[]
)
language plpgsql
stable
set search_path = pg_catalog, recodb, pg_temp
set plan_cache_mode = force_generic_plan  -- plans kept per connection, see slate_parts
as $$
declare
    v_cf public.vector;
    v_content public.vector;
    v_wc double precision := (p_settings -> 'blend_weights' ->> 'collaborative')::float8;
    v_wt double precision := (p_settings -> 'blend_weights' ->> 'content')::float8;
    v_wr double precision := (p_settings -> 'blend_weights' ->> 'recency')::float8;
    v_learned jsonb;
    v_w double precision[];  -- the learned weights, in slate_parts()'s order of parts
    v_sum double precision;
    v_cap integer := (p_settings ->> 'max_posts_per_author')::integer;
    v_authors uuid[];
    v_more_ids uuid[];
    v_more_scores double precision[];
    v_more_authors uuid[];
    v_scan integer;
    v_main integer;
begin
    if p_version is not null then
        select t.cf, t.content into v_cf, v_content
        from recodb.user_taste(p_user_id, p_version, p_settings -> 'interaction_weights') t;
        if coalesce((p_settings ->> 'blend_weights_pinned')::integer, 0) = 0 then
            select m.blend -> 'weights' into v_learned from recodb.model m
            where m.version = p_version;
        end if;
    end if;
    if v_learned is not null then
        v_w := array[coalesce((v_learned ->> 'collaborative')::float8, 0),
                     coalesce((v_learned ->> 'neighbours')::float8, 0),
                     coalesce((v_learned ->> 'content')::float8, 0),
                     coalesce((v_learned ->> 'recency')::float8, 0),
                     coalesce((v_learned ->> 'trending')::float8, 0),
                     coalesce((v_learned ->> 'following')::float8, 0)];
        v_sum := v_w[1] + v_w[2] + v_w[3] + v_w[4] + v_w[5] + v_w[6];
        if not v_sum > 0 then
            v_w := null;
        end if;
    end if;
    if v_w is not null then
        -- The top-up's fresh posts score by their recency part alone, as below.
        v_wr := v_w[4];
    else
        v_sum := v_wc + v_wt + v_wr;
    end if;

    select coalesce(array_agg(c.post_id order by c.score desc, c.post_id), '{}'),
           coalesce(array_agg(c.score * p_ceiling order by c.score desc, c.post_id), '{}'),
           coalesce(array_agg(c.reason order by c.score desc, c.post_id), '{}'),
           coalesce(array_agg(c.author_id order by c.score desc, c.post_id), '{}')
    into post_ids, scores, reasons, v_authors
    from (
        select s.post_id, s.author_id, s.score, s.reason
        from (
            select b.*, row_number() over (partition by b.author_id
                                           order by b.score desc, b.post_id) as nth
            from (
                select x.post_id, x.author_id,
                       (array['collaborative_filtering', 'following', 'content', 'fresh',
                              'trending'])[x.source] as reason,
                       case when v_w is not null then
                           (v_w[1] * case when v_cf is null then x.trending
                                          else x.collaborative end
                            + v_w[2] * x.neighbours
                            + v_w[3] * x.content + v_w[4] * x.recency + v_w[5] * x.trending
                            + v_w[6] * x.following) / v_sum
                       else
                           (v_wc * case when v_cf is null then x.trending
                                        else greatest(x.collaborative, x.neighbours,
                                                      case when x.source = 2 then 0.5 else 0 end)
                                   end
                            + v_wt * x.content + v_wr * x.recency) / v_sum
                       end as score
                from recodb.slate_parts(p_user_id, p_version, v_cf, v_content, p_exclude,
                                        p_settings) x
            ) b
        ) s
        left join (select a.author_id, count(*) as n from unnest(p_placed) a(author_id)
                   group by a.author_id) placed on placed.author_id = s.author_id
        where s.author_id is null or s.nth + coalesce(placed.n, 0) <= v_cap
        order by s.score desc, s.post_id
        limit p_count
    ) c;

    -- Short of posts: the newest ones fill the rest. The scan widens until the slate is full
    -- or every post has been looked at (the author cap may skip many). A slate comes here
    -- when its sources run short after the cap: 800 fresh slates at 20k users × 200k posts
    -- ran 23 top-up scans (762 with 20 candidates a source instead of 30), and each scanned
    -- post costs a heap fetch. The first scan reads twice what is missing and 20 more: it read
    -- four times and 100 more, 0.53 / 0.62 ms a scan there against 0.26 / 0.22 ms now (1.12
    -- against 0.34 ms for users who saw about 1,000 posts; auto_explain durations, which add
    -- its own cost to each), and the shorter scan ran no more scans than the longer one.
    v_main := cardinality(post_ids);
    v_scan := 2 * (p_count - v_main) + 20;
    while cardinality(post_ids) < p_count loop
        select coalesce(array_agg(n.id order by n.created_at desc, n.id), '{}'),
               coalesce(array_agg(p_ceiling * v_wr
                                  * recodb.decay(date_part('epoch', now() - n.created_at),
                                                 3600 * (p_settings ->> 'recency_half_life_hours')::float8)
                                  / v_sum order by n.created_at desc, n.id), '{}'),
               coalesce(array_agg(n.author_id order by n.created_at desc, n.id), '{}')
        into v_more_ids, v_more_scores, v_more_authors
        from (
            select n.*
            from (select p.id, p.author_id, p.created_at,
                         row_number() over (partition by p.author_id
                                            order by p.created_at desc, p.id) as nth
                  from (select p.id, p.author_id, p.created_at
                        from public.posts p
                        order by p.created_at desc, p.id
                        limit v_scan) p
                  -- What the slate can't hold, hashed once (`<> all` compared each scanned
                  -- post with every one of them). Leaving them out after the limit can leave
                  -- the scan short, and then it widens like any short scan.
                  where not exists (select from unnest(p_exclude || post_ids) e(id)
                                    where e.id = p.id)) n
            left join (select a.author_id, count(*) as n
                       from unnest(p_placed || v_authors) a(author_id)
                       group by a.author_id) placed on placed.author_id = n.author_id
            where n.author_id is null or n.nth + coalesce(placed.n, 0) <= v_cap
            order by n.created_at desc, n.id
            limit p_count - cardinality(post_ids)
        ) n;
        post_ids := post_ids || v_more_ids;
        scores := scores || v_more_scores;
        reasons := reasons || array_fill('fresh'::text, array[cardinality(v_more_ids)]);
        v_authors := v_authors || v_more_authors;
        exit when cardinality(post_ids) >= p_count;  -- full: no need to count the posts
        exit when v_scan >= (select count(*) from public.posts);
        v_scan := v_scan * 4;
    end loop;
    if cardinality(post_ids) > v_main then
        -- A fresh post may outrank the weakest candidates: keep the slate sorted.
        select array_agg(x.post_id order by x.score desc, x.post_id),
               array_agg(x.score order by x.score desc, x.post_id),
               array_agg(x.reason order by x.score desc, x.post_id)
        into post_ids, scores, reasons
        from unnest(post_ids, scores, reasons) as x(post_id, score, reason);
    end if;
end
$$;

comment on function recodb.compute_slate(uuid, integer, integer, uuid[], uuid[],
                                         double precision, jsonb) is
    'Internal: the next posts of a user''s slate (post_ids, scores, reasons), blended, capped '
    'per author and topped up with the newest posts';

revoke execute on function recodb.compute_slate(uuid, integer, integer, uuid[], uuid[],
                                                double precision, jsonb) from public;
