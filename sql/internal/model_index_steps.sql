-- requires: 0003
-- The indexes of a version, in build order: keys first, then the indexes the serving path
-- probes. Inner product ranks user → post (the post vector's length carries popularity);
-- cosine serves post ↔ post, user ↔ user (HNSW graphs) and profile → text (IVFFlat lists).
create or replace function recodb.model_index_steps()
returns table (step text)
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
    select unnest(array['post keys', 'user keys', 'HNSW post inner product', 'HNSW post cosine',
                        'IVFFlat post content', 'HNSW user cosine', 'analyze'])
$$;

comment on function recodb.model_index_steps() is
    'Internal: the steps of index_model_table(), in order';

revoke execute on function recodb.model_index_steps() from public;
