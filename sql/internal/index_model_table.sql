-- requires: 0003
-- Build one step of model_index_steps() on a version's tables (training calls each in turn,
-- inside the transaction that wrote the vectors, and shows each as progress).
-- The graphs link each node to m = 8 others (pgvector's default is 16): at 20k users × 200k
-- posts that halved the build (inner product 33.7 → 17.3 s, text 50.7 → 29.8 s) and made a
-- probe a quarter cheaper (0.77 → 0.58 ms), with recall@60 0.999 → 0.995 and 0.992 → 0.992.
-- A draft (p_draft) graph is sparser still (m = 4, ef_construction = 32; inner product at that
-- scale: 6.0 s, recall@60 0.986): learning a blend serves 500 validation users from vectors
-- that live for one rolled-back transaction, where exact scans of a million posts cost more
-- than building these.
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
    v_with text := case when p_draft then ' with (m = 4, ef_construction = 32)'
                        else ' with (m = 8)' end;
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
