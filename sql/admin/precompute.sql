-- requires: 0006
-- Compute and store the slates of every user active in the last p_active_days (an interaction
-- since then) whose slate is missing, expired or from another model, so that their first page
-- is a lookup too. A precomputed slate serves its first page once (the next offset 0 computes a
-- new one); it expires like any other, later pages read it, and posts touched since it was made
-- are left out of each page. Users are taken in user_id order from p_after (exclusive), at most
-- p_limit of them, so that callers can split the work into batches and commit between them
-- (`recodb precompute` does, on several connections). A user whose slate another session holds
-- is skipped. Each slate is also copied to recodb.replica_slate, which replicates (recodb.slate
-- is unlogged), so that hot standbys serve it too. Returns (users, last user_id).
create or replace function recodb.precompute(
    p_active_days double precision default 7,
    p_after uuid default null,
    p_limit integer default 1000,
    p_modulus integer default 1,
    p_remainder integer default 0
)
returns table (users integer, last_user_id uuid)
language plpgsql
security definer
set search_path = pg_catalog, recodb, pg_temp
as $$
declare
    v_settings jsonb;
    v_version integer;
    v_user uuid;
    v_exclude uuid[];
    v_next record;
    v_expires timestamptz;
    v_replicas boolean := pg_catalog.to_regclass('recodb.replica_slate') is not null;  -- 0009
begin
    if p_active_days is null or p_active_days <= 0 then
        raise exception 'p_active_days must be > 0, got %', p_active_days using errcode = '22023';
    end if;
    if p_limit is null or p_limit < 1 then
        raise exception 'p_limit must be >= 1, got %', p_limit using errcode = '22023';
    end if;
    if p_modulus is null or p_modulus < 1 or p_remainder is null or p_remainder < 0
       or p_remainder >= p_modulus then
        raise exception 'p_remainder must lie in 0..p_modulus - 1' using errcode = '22023';
    end if;
    perform pg_advisory_xact_lock_shared(pg_catalog.hashtext('recodb.model_tables'));
    select m.version into v_version from recodb.model m where m.status = 'active';
    select jsonb_object_agg(s.key, s.value) into v_settings from recodb.setting s;
    v_expires := now() + make_interval(secs => (v_settings ->> 'slate_ttl_seconds')::float8);
    users := 0;
    for v_user in
        select u.id
        from public.users u
        where (p_after is null or u.id > p_after)
          and abs(pg_catalog.hashtextextended(u.id::text, 0::bigint) % p_modulus) = p_remainder
          and exists (select from public.user_interaction i
                      where i.user_id = u.id
                        and i.created_at > now() - make_interval(secs => p_active_days * 86400))
          and not exists (select from recodb.slate s
                          where s.user_id = u.id and s.expires_at > now()
                            and s.model_version is not distinct from v_version)
        order by u.id
        limit p_limit
    loop
        last_user_id := v_user;
        continue when not pg_try_advisory_xact_lock(
            pg_catalog.hashtextextended(v_user::text, 7::bigint));
        select coalesce(array_agg(distinct i.post_id), '{}') into v_exclude
        from public.user_interaction i where i.user_id = v_user;
        select * into v_next
        from recodb.compute_slate(v_user, v_version, (v_settings ->> 'slate_size')::integer,
                                  v_exclude, '{}', 1, v_settings);
        perform recodb.store_slate(
            v_user, v_version, v_next.post_ids, v_next.scores, v_next.reasons, true, now(),
            v_expires);
        if v_replicas then  -- the logged copy hot standbys serve
            insert into recodb.replica_slate
                (user_id, model_version, post_ids, scores, reasons, generated_at, expires_at)
            values (v_user, v_version, v_next.post_ids, v_next.scores, v_next.reasons, now(),
                    v_expires)
            on conflict (user_id) do update
                set (model_version, post_ids, scores, reasons, generated_at, expires_at)
                  = (excluded.model_version, excluded.post_ids, excluded.scores,
                     excluded.reasons, excluded.generated_at, excluded.expires_at);
        end if;
        users := users + 1;
    end loop;
    return next;
end
$$;

comment on function recodb.precompute(double precision, uuid, integer, integer, integer) is
    'Stores fresh slates for up to p_limit users active in the last p_active_days (after '
    'p_after, in the p_remainder share of p_modulus); returns (users, last_user_id)';

revoke execute on function recodb.precompute(double precision, uuid, integer, integer, integer)
    from public;
