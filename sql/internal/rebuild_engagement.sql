-- requires: 0008
-- Rebuild recodb.engagement from user_interaction: after a delete or update of interactions
-- (refresh() calls it), and after a bulk load that suspended the insert trigger (seeding,
-- evaluation's scratch copy: one insert of every triple costs far less than an upsert per
-- statement into an indexed table). Rebuilt rows count as old (first_xid 0): the next refresh
-- counts everything once, fully, and never these rows again; a triple that a transaction still
-- running adds keeps its own xid and is counted by the refresh after it.
create or replace function recodb.rebuild_engagement()
returns void
language plpgsql
set search_path = pg_catalog, recodb, pg_temp
as $$
begin
    delete from recodb.engagement;
    insert into recodb.engagement
        (post_id, user_id, interaction_type, last_at, first_xid, changed_xid)
    select i.post_id, i.user_id, i.interaction_type, max(i.created_at), '0'::xid8, '0'::xid8
    from public.user_interaction i
    group by i.post_id, i.user_id, i.interaction_type;
    update recodb.refresh_state set full_needed = true, engagement_stale = false;
end
$$;

comment on function recodb.rebuild_engagement() is
    'Internal: rebuilds recodb.engagement from user_interaction; the next refresh is full';

revoke execute on function recodb.rebuild_engagement() from public;
