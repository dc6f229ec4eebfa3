-- requires: 0003
-- Build one step of model_index_steps() on a version's tables (training calls each in turn,
-- inside the transaction that wrote the vectors, and shows each as progress).
-- Index options follow where a probe's queries come from. Measured at 20k users × 200k posts,
-- recall against an exact scan:
--   * A user's vector probing posts by inner product asks from another distribution than the
--     graph's points, and needs pgvector's defaults (m = 16, ef_construction = 64): it builds
--     in 22.9 s with recall@30 0.977 at ef_search 40, against 10.6 s and 0.910 at m = 8 (seen
--     posts excluded).
--   * A post probing posts (similar_posts) and a user probing users (a slate's neighbours)
--     ask with the graph's own points, and a sparse graph finds them: post cosine m = 8,
--     ef_construction = 32 builds in 10.0 s with recall@20 0.983 (28.6 s and 0.997 at the
--     defaults); user cosine in 1.7 s with 0.990 (4.5 s and 0.998).
--   * Text vectors gather in tight clusters (posts of one topic lie within cosine distance
--     0.01 of each other), and a text profile mixes them. An HNSW graph of them strands a
--     sixth of the profiles in the wrong cluster whatever the search effort: recall@30 0.776
--     at ef_search 40, 0.824 at 200, 0.818 with m = 32; 17.5 % of users mostly missed (k = 50).
--     IVFFlat's k-means lists do not strand them: about 200 posts a list on average
--     (text_lists(); the lists near a profile hold more, see slate_parts), 5 lists a probe
--     (slate_parts: recall@50 0.870, and the misses are near-ties), and it builds
--     in 13.8 s instead of 40.5 s. At 100k users × 1M posts (2,000 lists of 500 posts) it built
--     in 64 s in training (77.7 s on a copy) instead of 261 s, and a probe of 5 lists reads
--     more (recall@30 0.774 at 1.7 ms).
-- A draft index (p_draft: m = 8, ef_construction = 32 for the graphs, 1,000 posts a text list)
-- is for learning a blend, which serves 500 validation users from vectors that live for
-- one rolled-back transaction: there exact scans of every post cost more (at 100k users × 1M
-- posts that step took 531 s with scans, 167 s with draft graphs).
create or replace function recodb.index_model_table(
    p_version integer,
    p_step text,
    p_draft boolean default false
)
returns boolean
language plpgsql
set search_path = pg_catalog, pg_temp
-- A graph builds fastest when it fits in memory (pgvector warns when it doesn't).
set maintenance_work_mem = '2GB'
set max_parallel_maintenance_workers = 1
as $$
declare
    v_posts text := recodb.model_table_name('post', p_version);
    v_users text := recodb.model_table_name('user', p_version);
    v_name text := 'v' || p_version;
    v_sparse constant text := ' with (m = 8, ef_construction = 32)';
    v_with text := case when p_draft then v_sparse else '' end;
    v_texts bigint;
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
                       'post_vector_' || v_name || '_cf_cos', v_posts, v_sparse);
    when 'IVFFlat post content' then
        if (select a.atttypmod <= 0 from pg_attribute a
            where a.attrelid = v_posts::regclass and a.attname = 'content') then
            return false;  -- no text vectors in this version
        end if;
        execute format('select count(*) from %s v where v.content is not null', v_posts)
        into v_texts;
        execute format('create index %I on %s using ivfflat (content public.vector_cosine_ops)'
                       ' with (lists = %s)',
                       'post_vector_' || v_name || '_content_cos', v_posts,
                       recodb.text_lists(v_texts, p_draft));
    when 'HNSW user cosine' then
        execute format('create index %I on %s using hnsw (cf public.vector_cosine_ops)%s',
                       'user_vector_' || v_name || '_cf_cos', v_users, v_sparse);
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
