-- requires: 0008
-- New posts compete on the same terms as trained ones, without a retrain (refresh() calls it):
--   content  a post written after the model's data ends that the active model has no row for
--            gets a text vector from the model's own
--            text model (recodb.term_vector_v<N>): normalise(Σ (1 + ln tf) · idf · component)
--            over its words, tokenised as scikit-learn's TfidfVectorizer does (lower case,
--            runs of two or more word characters). Terms the model never saw add nothing.
--   cf       a post written after the model's data ends, or one without a collaborative vector,
--            that has new engagements (first added by transactions in [p_from, p_upto), see
--            refresh(); all of them when p_from is null) gets M · Σ (1 + α·w) x over the users
--            who engaged (their
--            trained vectors; M = (X'X + λI)⁻¹ stored with the model): the mirror of the user
--            fold-in, with the same approximation (see user_taste()). Recomputed at every
--            refresh while the post is new, so it sharpens as engagements arrive.
-- Both land in the version's post table, so its indexes (graphs, text lists) include the post
-- at once.
-- (A post imported with an old date after training gets its vectors at the next training.)
-- At most p_limit posts of each kind per call, newest first. Returns how many posts changed.
create or replace function recodb.post_vectors(
    p_from xid8 default null,
    p_upto xid8 default null,
    p_limit integer default 50000
)
returns integer
language plpgsql
set search_path = pg_catalog, recodb, pg_temp
as $$
declare
    v_model recodb.model;
    v_posts text;
    v_terms regclass;
    v_added integer := 0;
    v_folded integer := 0;
begin
    select * into v_model from recodb.model m where m.status = 'active';
    if v_model.version is null then
        return 0;
    end if;
    v_posts := recodb.model_table_name('post', v_model.version);
    v_terms := recodb.model_table('term', v_model.version);

    -- Rows for the posts the model has never seen (with a text vector when it has a text model).
    if v_terms is null then
        execute format(
            'insert into %s (post_id, cf, content, author_id, created_at)'
            ' select p.id, null, null, p.author_id, p.created_at from public.posts p'
            ' where p.created_at > $2 and not exists (select from %1$s v where v.post_id = p.id)'
            ' order by p.created_at desc, p.id limit $1', v_posts)
        using p_limit, v_model.trained_to;
    else
        execute format(
            $q$
            with new as (
                select p.id, p.content, p.author_id, p.created_at
                from public.posts p
                where p.created_at > $2 and not exists (select from %1$s v where v.post_id = p.id)
                order by p.created_at desc, p.id
                limit $1
            ), tf as (
                select n.id, m.parts[1] as term, count(*) as n
                from new n
                cross join lateral regexp_matches(lower(n.content), '\w\w+', 'g') as m(parts)
                group by n.id, m.parts[1]
            ), summed as (
                select tf.id,
                       public.sum(w.vector OPERATOR(public.*)
                                  array_fill(((1 + ln(tf.n)) * w.idf)::real,
                                             array[public.vector_dims(w.vector)])::public.vector)
                           as vector
                from tf
                join %2$s w on w.term = tf.term
                group by tf.id
            )
            insert into %1$s (post_id, cf, content, author_id, created_at)
            select n.id, null,
                   case when public.vector_norm(s.vector) > 0
                        then public.l2_normalize(s.vector) end,
                   n.author_id, n.created_at
            from new n
            left join summed s on s.id = n.id
            $q$,
            v_posts, v_terms)
        using p_limit, v_model.trained_to;
    end if;
    get diagnostics v_added = row_count;

    -- Collaborative vectors folded in from the users who engaged.
    if v_model.post_fold_in is not null or v_model.algorithm = 'bpr' then
        execute format(
            $q$
            with engaged as (
                select distinct e.post_id from recodb.engagement e
                where $7::xid8 is null or (e.first_xid >= $7 and e.first_xid < $8)
            ), target as (
                select v.post_id
                from engaged e
                join %1$s v on v.post_id = e.post_id
                where v.cf is null or v.created_at > $1
                order by v.created_at desc, v.post_id
                limit $2
            ), sums as (
                select t.post_id,
                       public.sum(u.cf OPERATOR(public.*)
                                  array_fill((1 + $3 * e.w)::real, array[$4])::public.vector)
                           as s
                from target t
                cross join lateral (
                    select i.user_id, sum(coalesce(($5 ->> i.interaction_type)::real, 0)) as w
                    from public.user_interaction i
                    where i.post_id = t.post_id
                    group by i.user_id) e
                join %2$s u on u.user_id = e.user_id
                where e.w > 0
                group by t.post_id
            ), folded as (
                select s.post_id,
                       case when $6::real[] is null then s.s
                            else (select array_agg(x.value order by x.r)
                                  from (select r.r, sum($6[r.r * $4 + c.c + 1]
                                                        * (s.s::real[])[c.c + 1]) as value
                                        from generate_series(0, $4 - 1) r(r),
                                             generate_series(0, $4 - 1) c(c)
                                        group by r.r) x)::public.vector end as cf
                from sums s
            )
            update %1$s v set cf = f.cf
            from folded f
            where v.post_id = f.post_id
            $q$,
            v_posts, recodb.model_table_name('user', v_model.version))
        using v_model.trained_to, p_limit, coalesce((v_model.params ->> 'alpha')::real, 0),
              v_model.factors, recodb.setting_value('interaction_weights'),
              v_model.post_fold_in, p_from, p_upto;
        get diagnostics v_folded = row_count;
    end if;
    return v_added + v_folded;
end
$$;

comment on function recodb.post_vectors(xid8, xid8, integer) is
    'Internal: text vectors for posts the active model never saw, and collaborative vectors '
    'folded in from the first engagements of new posts; returns how many posts changed';

revoke execute on function recodb.post_vectors(xid8, xid8, integer) from public;
