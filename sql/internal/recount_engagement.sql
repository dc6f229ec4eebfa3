-- requires: 0008
-- The counting half of refresh(). With p_from null: a full recompute (recodb.engagement rebuilt
-- from user_interaction first when a delete or update made it stale, then every count from
-- it). Otherwise only the triples first added by
-- transactions in [p_from, p_upto) are counted in, and those whose time moved in that range
-- update newest times and recent likes (p_upto: the oldest transaction still running
-- at the caller's snapshot, so that nothing below it can still arrive and nothing at or above
-- it is counted twice): their posts' counts go up, their authors'
-- engagement goes up by the type weights, and their users' recent likes are recomputed.
-- Followers are recounted for every author each time (follows is small and has no history).
create or replace function recodb.recount_engagement(
    p_from xid8,
    p_weights jsonb,
    p_upto xid8
)
returns void
language plpgsql
set search_path = pg_catalog, recodb, pg_temp
as $$
begin
    if p_from is null then
        if (select s.engagement_stale from recodb.refresh_state s) then
            perform recodb.rebuild_engagement();
        end if;
        delete from recodb.post_engagement;
        delete from recodb.user_recent_likes;
        update recodb.author_popularity set engagement = 0 where engagement <> 0;
    end if;

    -- New triples (counted) and triples whose time moved (for newest times and recent likes).
    create temp table if not exists recount_new (
        post_id uuid, user_id uuid, interaction_type text, last_at timestamptz, is_new boolean
    ) on commit drop;
    truncate recount_new;
    insert into recount_new
    select e.post_id, e.user_id, e.interaction_type, e.last_at,
           e.first_xid >= coalesce(p_from, '0'::xid8) and e.first_xid < p_upto
    from recodb.engagement e
    where (e.first_xid >= coalesce(p_from, '0'::xid8) and e.first_xid < p_upto)
       or (p_from is not null and e.changed_xid >= p_from and e.changed_xid < p_upto);

    insert into recodb.post_engagement as pe
        (post_id, views, clicks, likes, comments, shares, last_interaction_at)
    select n.post_id,
           count(*) filter (where n.is_new and n.interaction_type = 'view'),
           count(*) filter (where n.is_new and n.interaction_type = 'click'),
           count(*) filter (where n.is_new and n.interaction_type = 'like'),
           count(*) filter (where n.is_new and n.interaction_type = 'comment'),
           count(*) filter (where n.is_new and n.interaction_type = 'share'),
           max(n.last_at)
    from recount_new n
    group by n.post_id
    on conflict (post_id) do update
        set views = pe.views + excluded.views, clicks = pe.clicks + excluded.clicks,
            likes = pe.likes + excluded.likes, comments = pe.comments + excluded.comments,
            shares = pe.shares + excluded.shares,
            last_interaction_at = greatest(pe.last_interaction_at, excluded.last_interaction_at);

    -- Authors: engagement from the new triples; every author with posts has a row.
    insert into recodb.author_popularity as a (author_id, engagement)
    select p.author_id, coalesce(sum((p_weights ->> n.interaction_type)::float8), 0)
    from recount_new n
    join public.posts p on p.id = n.post_id
    where n.is_new and p.author_id is not null
    group by p.author_id
    on conflict (author_id) do update set engagement = a.engagement + excluded.engagement;
    -- Followers, recounted; popularity follows from both.
    with counted as (
        select f.followee_id as author_id, count(*) as followers
        from public.follows f group by f.followee_id
    ), changed as (
        select a.author_id, coalesce(c.followers, 0) as followers
        from recodb.author_popularity a
        left join counted c on c.author_id = a.author_id
        where a.followers is distinct from coalesce(c.followers, 0)
    )
    update recodb.author_popularity a set followers = c.followers
    from changed c where c.author_id = a.author_id;
    insert into recodb.author_popularity (author_id, followers)
    select f.followee_id, count(*) from public.follows f
    where not exists (select from recodb.author_popularity a where a.author_id = f.followee_id)
      and exists (select from public.posts p where p.author_id = f.followee_id)
    group by f.followee_id;
    update recodb.author_popularity a
    set popularity = ln(1 + a.followers) + ln(1 + a.engagement)
    where a.popularity is distinct from ln(1 + a.followers) + ln(1 + a.engagement);

    -- Recent likes of the users who liked, commented or shared something new.
    with touched as (
        select distinct n.user_id from recount_new n
        where n.interaction_type in ('like', 'comment', 'share')
    ), liked as (
        select e.user_id, e.post_id, max(e.last_at) as at
        from touched t
        join recodb.engagement e on e.user_id = t.user_id
        where e.interaction_type in ('like', 'comment', 'share')
        group by e.user_id, e.post_id
    ), ranked as (
        select l.*, row_number() over (partition by l.user_id order by l.at desc, l.post_id) as n
        from liked l
    )
    insert into recodb.user_recent_likes as r (user_id, post_ids)
    select k.user_id, array_agg(k.post_id order by k.n) from ranked k
    where k.n <= 20
    group by k.user_id
    on conflict (user_id) do update set post_ids = excluded.post_ids;
end
$$;

comment on function recodb.recount_engagement(xid8, jsonb, xid8) is
    'Internal to refresh(): counts engagement in, fully (p_from null) or from the triples first '
    'added by transactions in [p_from, p_upto)';

revoke execute on function recodb.recount_engagement(xid8, jsonb, xid8) from public;
