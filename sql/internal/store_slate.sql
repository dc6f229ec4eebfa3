-- requires: 0006
-- Store a user's slate, replacing the one they had (recommend() and precompute()). Plain
-- arguments rather than the row type, so that no function depends on the table's type.
create or replace function recodb.store_slate(
    p_user_id uuid,
    p_version integer,
    p_post_ids uuid[],
    p_scores double precision[],
    p_reasons text[],
    p_precomputed boolean,
    p_generated_at timestamptz,
    p_expires_at timestamptz
)
returns void
language sql
set search_path = pg_catalog, recodb, pg_temp
as $$
    insert into recodb.slate
        (user_id, model_version, post_ids, scores, reasons, precomputed, generated_at,
         expires_at)
    values (p_user_id, p_version, p_post_ids, p_scores, p_reasons, p_precomputed,
            p_generated_at, p_expires_at)
    on conflict (user_id) do update
        set (model_version, post_ids, scores, reasons, precomputed, generated_at, expires_at)
          = (excluded.model_version, excluded.post_ids, excluded.scores, excluded.reasons,
             excluded.precomputed, excluded.generated_at, excluded.expires_at)
$$;

comment on function recodb.store_slate(uuid, integer, uuid[], double precision[], text[],
                                       boolean, timestamptz, timestamptz) is
    'Internal: stores a slate, replacing the user''s previous one';

revoke execute on function recodb.store_slate(uuid, integer, uuid[], double precision[], text[],
                                              boolean, timestamptz, timestamptz) from public;
