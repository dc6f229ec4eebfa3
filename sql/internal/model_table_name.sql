-- requires: 0003
-- The one place that names a model version's tables: recodb.post_vector_v<N> (post_id, cf,
-- content, author_id, created_at), recodb.user_vector_v<N> (user_id, cf, content, and
-- neighbours, neighbour_similarities in a version whose metrics record `neighbours`) and
-- recodb.term_vector_v<N> (term, idf, vector: the text model). Each version has its own
-- tables because an HNSW index needs a fixed dimension per column, and versions differ.
-- model_table() is the table itself.
create or replace function recodb.model_table_name(p_kind text, p_version integer)
returns text
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
as $$
begin
    if p_kind is null or p_kind not in ('post', 'user', 'term') then
        raise exception 'p_kind must be post, user or term, got %', coalesce(p_kind, 'null')
            using errcode = '22023';
    end if;
    return format('recodb.%I', p_kind || '_vector_v' || p_version);
end
$$;

comment on function recodb.model_table_name(text, integer) is
    'Internal: the qualified name of a model version''s post, user or term vector table';

revoke execute on function recodb.model_table_name(text, integer) from public;
