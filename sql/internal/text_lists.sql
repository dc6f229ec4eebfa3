-- requires: 0003
-- How many IVFFlat lists a version's text index gets for p_texts posts with text: about 200
-- posts a list on average (1,000 for a draft), between 1 and 2,000; k-means leaves them
-- uneven, and a probe costs what its lists hold (see slate_parts()). k-means keeps a bound
-- per sample (50 a list) and list, about 200 · lists² bytes (800 MB at 2,000), and its time
-- grows the same way (1M posts: 2,000 lists built in 64–78 s). index_model_table() builds
-- with it, and `recodb doctor` proposes it.
create or replace function recodb.text_lists(p_texts bigint, p_draft boolean default false)
returns integer
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
    select least(2000, greatest(1, ceil(coalesce(p_texts, 0)
                                        / case when p_draft then 1000.0 else 200.0 end)))::integer
$$;

comment on function recodb.text_lists(bigint, boolean) is
    'Internal: IVFFlat lists for a text index over p_texts posts (about 200 a list, 1,000 for a '
    'draft; 1 to 2,000)';

revoke execute on function recodb.text_lists(bigint, boolean) from public;
