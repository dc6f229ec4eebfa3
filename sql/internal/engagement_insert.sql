-- requires: 0008
-- Trigger (after insert on user_interaction, once per statement): every (post, user, type)
-- the statement brings goes into recodb.engagement, or moves its newest time forward. One
-- statement of a million rows is one upsert. Runs as recodb_owner, whoever inserts.
create or replace function recodb.engagement_insert()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, recodb, pg_temp
as $$
begin
    insert into recodb.engagement as e (post_id, user_id, interaction_type, last_at)
    select n.post_id, n.user_id, n.interaction_type, max(n.created_at)
    from new_rows n
    group by n.post_id, n.user_id, n.interaction_type
    on conflict (post_id, user_id, interaction_type) do update
        set last_at = excluded.last_at, changed_xid = pg_current_xact_id()
        where excluded.last_at > e.last_at;
    return null;
end
$$;

comment on function recodb.engagement_insert() is
    'Trigger: keeps recodb.engagement current as interactions are inserted';

revoke execute on function recodb.engagement_insert() from public;

create or replace trigger engagement_insert
    after insert on public.user_interaction
    referencing new table as new_rows
    for each statement execute function recodb.engagement_insert();
