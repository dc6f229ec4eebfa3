-- requires: 0003
-- Build one step of model_index_steps() on a version's tables (training calls each in turn,
-- inside the transaction that wrote the vectors, and shows each as progress).
-- The serving graphs use pgvector's defaults (m = 16, ef_construction = 64). Measured at 20k
-- users × 200k posts (inner product, probes of 30 with seen posts excluded, recall against an
-- exact scan, ef_search 40): m = 16 builds in 22.9 s, recall@30 0.977; m = 8 in 10.6 s, 0.910.
-- A draft graph (p_draft: m = 8, ef_construction = 32: 6.3 s, recall@30 0.889; m = 4 would be
-- 4.0 s, 0.608) is for learning a blend, which serves 500 validation users from vectors that
-- live for one rolled-back transaction: there exact scans of every post cost more (at 100k
-- users × 1M posts that step took 531 s with scans, 167 s with these draft graphs).
create or replace function recodb.index_model_table(
    p_version integer,
    p_step text,
    p_draft boolean default false
)
returns boolean
language plpgsql
set search_path = pg_catalog, pg_temp
-- The graph builds fastest when it fits in memory (pgvector warns when it doesn't).
set maintenance_work_mem = '2GB'
set max_parallel_maintenance_workers = 1
as $$
declare
    v_posts text := recodb.model_table_name('post', p_version);
    v_users text := recodb.model_table_name('user', p_version);
    v_name text := 'v' || p_version;
    v_with text := case when p_draft then ' with (m = 8, ef_construction = 32)' else '' end;
begin
    case p_step
    when 'post keys' then
        execute format('alter table %s add primary key (post_id)', v_posts);
    when 'user keys' then
        execute format('alter table %s add primary key (user_id)', v_users);
    when 'HNSW post inner product' then
        execute format('create index %I on %s using hnsw (cf public.vector_ip_ops)%s',
                       'post_vector_' || v_name || '_cf_ip', v_posts, v_with);
    when 'HNSW post cosine' then
        execute format('create index %I on %s using hnsw (cf public.vector_cosine_ops)%s',
                       'post_vector_' || v_name || '_cf_cos', v_posts, v_with);
    when 'HNSW post content' then
        if (select a.atttypmod <= 0 from pg_attribute a
            where a.attrelid = v_posts::regclass and a.attname = 'content') then
            return false;  -- no text vectors in this version
        end if;
        execute format('create index %I on %s using hnsw (content public.vector_cosine_ops)%s',
                       'post_vector_' || v_name || '_content_cos', v_posts, v_with);
    when 'HNSW user cosine' then
        execute format('create index %I on %s using hnsw (cf public.vector_cosine_ops)%s',
                       'user_vector_' || v_name || '_cf_cos', v_users, v_with);
    when 'analyze' then
        execute format('analyze %s', v_posts);
        execute format('analyze %s', v_users);
    else
        raise exception 'unknown index step %', p_step using errcode = '22023';
    end case;
    return true;
end
$$;

comment on function recodb.index_model_table(integer, text, boolean) is
    'Internal: builds one of model_index_steps() on model version p_version''s tables; false '
    'when the step does not apply (no text vectors); p_draft: sparser, quicker graphs';

revoke execute on function recodb.index_model_table(integer, text, boolean) from public;
