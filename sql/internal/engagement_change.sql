-- requires: 0008
-- Trigger (after update, delete or truncate of user_interaction, once per statement): what
-- was counted may no longer be there, so the next refresh() rebuilds recodb.engagement and
-- everything counted from it (rare: deleted users and posts, corrections). A truncate
-- (reseeding) empties the engagement and everything counted from it at once instead: what is
-- loaded next arrives as new triples and the next refresh counts it like any other.
create or replace function recodb.engagement_change()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, recodb, pg_temp
as $$
begin
    if tg_op = 'TRUNCATE' then
        truncate recodb.engagement, recodb.post_engagement, recodb.author_popularity,
                 recodb.user_recent_likes, recodb.trending_post;
        return null;
    end if;
    update recodb.refresh_state set full_needed = true, engagement_stale = true
    where not (full_needed and engagement_stale);
    return null;
end
$$;

comment on function recodb.engagement_change() is
    'Trigger: marks the next refresh() full after an update, delete or truncate of interactions';

revoke execute on function recodb.engagement_change() from public;

create or replace trigger engagement_change
    after update or delete on public.user_interaction
    for each statement execute function recodb.engagement_change();

create or replace trigger engagement_truncate
    after truncate on public.user_interaction
    for each statement execute function recodb.engagement_change();
