-- requires: 0006
-- Record one interaction. Bad input raises SQLSTATE 22023 naming the argument, and nothing is
-- written. Nothing else needs updating: recommend() folds the interactions a user made since
-- the active model was trained into their vector when it computes their next slate.
create or replace function recodb.track_interaction(
    p_user_id uuid,
    p_post_id uuid,
    p_type text,
    p_metadata jsonb default null
)
returns uuid
language plpgsql
volatile
security definer
set search_path = pg_catalog, recodb, pg_temp
as $$
declare
    v_id uuid;
begin
    if p_user_id is null then
        raise exception 'p_user_id must not be null' using errcode = '22023';
    end if;
    if p_post_id is null then
        raise exception 'p_post_id must not be null' using errcode = '22023';
    end if;
    if p_type is null or p_type not in ('view', 'click', 'like', 'comment', 'share') then
        raise exception 'p_type must be one of view, click, like, comment, share; got %',
            coalesce(quote_literal(left(p_type, 60)) || case when length(p_type) > 60
                                                           then '…' else '' end, 'null')
            using errcode = '22023';
    end if;
    if p_metadata is not null and jsonb_typeof(p_metadata) <> 'object' then
        raise exception 'p_metadata must be a JSON object, got %', jsonb_typeof(p_metadata)
            using errcode = '22023';
    end if;
    if octet_length(p_metadata::text) > (recodb.setting_value('max_metadata_bytes'))::integer then
        raise exception 'p_metadata must be at most % bytes of JSON (setting max_metadata_bytes), '
            'got %', recodb.setting_value('max_metadata_bytes'), octet_length(p_metadata::text)
            using errcode = '22023';
    end if;
    if not exists (select from public.users where id = p_user_id) then
        raise exception 'unknown user %', p_user_id using errcode = '22023';
    end if;
    if not exists (select from public.posts where id = p_post_id) then
        raise exception 'unknown post %', p_post_id using errcode = '22023';
    end if;
    insert into public.user_interaction (user_id, post_id, interaction_type, metadata)
    values (p_user_id, p_post_id, p_type, p_metadata)
    returning id into v_id;
    return v_id;
end
$$;

comment on function recodb.track_interaction(uuid, uuid, text, jsonb) is
    'Records one interaction (view, click, like, comment, share); returns its id';

revoke execute on function recodb.track_interaction(uuid, uuid, text, jsonb) from public;
grant execute on function recodb.track_interaction(uuid, uuid, text, jsonb) to recodb_tracker;
