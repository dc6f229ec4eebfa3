-- requires: 0003
-- The tables of a new model version, empty and without indexes (training COPYs the vectors in,
-- then calls index_model_table() for each of model_index_steps()): posts, users and, when it
-- has text vectors, its text model's terms. A version without text vectors (p_content_dims 0)
-- gets an untyped, all-null content column.
create or replace function recodb.create_model_tables(
    p_version integer,
    p_factors integer,
    p_content_dims integer
)
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    v_content text := case when p_content_dims > 0
                           then format('public.vector(%s)', p_content_dims)
                           else 'public.vector' end;
begin
    if p_factors is null or p_factors < 1 then
        raise exception 'p_factors must be >= 1, got %', p_factors using errcode = '22023';
    end if;
    -- A post's author and time ride along, so that scoring a candidate is one lookup.
    execute format('create table %s (post_id uuid not null, cf public.vector(%s), content %s, '
                   'author_id uuid, created_at timestamptz not null)',
                   recodb.model_table_name('post', p_version), p_factors, v_content);
    -- A user's nearest users (cosine, nearest first) ride along too: serving reads them
    -- instead of probing the user graph (slate_parts()).
    execute format('create table %s (user_id uuid not null, cf public.vector(%s) not null, '
                   'content %s, neighbours uuid[], neighbour_similarities real[])',
                   recodb.model_table_name('user', p_version), p_factors, v_content);
    if p_content_dims > 0 then
        -- The text model: each term's idf and its row of the SVD projection.
        execute format('create table %s (term text primary key, idf real not null, '
                       'vector public.vector(%s) not null)',
                       recodb.model_table_name('term', p_version), p_content_dims);
        if to_regrole('recodb_owner') is not null then
            execute format('grant select on %s to recodb_owner',
                           recodb.model_table_name('term', p_version));
        end if;
    end if;
    if to_regrole('recodb_owner') is not null then
        -- The serving functions run as recodb_owner (revision 0006); refresh adds new posts.
        execute format('grant select, insert, update on %s, %s to recodb_owner',
                       recodb.model_table_name('post', p_version),
                       recodb.model_table_name('user', p_version));
    end if;
    perform recodb.create_model_views(p_version);  -- what the scoring functions read
end
$$;

comment on function recodb.create_model_tables(integer, integer, integer) is
    'Internal: creates the empty post and user vector tables of model version p_version, and '
    'its serving views';

revoke execute on function recodb.create_model_tables(integer, integer, integer) from public;
