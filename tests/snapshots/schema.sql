CREATE SCHEMA recodb;

COMMENT ON SCHEMA recodb IS 'recodb: recommender state and serving functions';

CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public;

COMMENT ON EXTENSION vector IS 'vector data type and ivfflat and hnsw access methods';

CREATE FUNCTION recodb.setting_validate() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
declare
    v_keys text[];
    v_expected text[];
    v_key text;
begin
    if new.key in ('interaction_weights', 'blend_weights') then
        v_expected := case new.key
            when 'interaction_weights' then array['click', 'comment', 'like', 'share', 'view']
            else array['collaborative', 'content', 'recency']
        end;
        if jsonb_typeof(new.value) <> 'object' then
            raise exception 'setting %: expected a JSON object', new.key using errcode = '22023';
        end if;
        select array_agg(k order by k) into v_keys from jsonb_object_keys(new.value) as k;
        if v_keys is distinct from v_expected then
            raise exception 'setting %: expected exactly the keys %, got %',
                new.key, v_expected, v_keys using errcode = '22023';
        end if;
        foreach v_key in array v_keys loop
            if jsonb_typeof(new.value -> v_key) <> 'number' or (new.value ->> v_key)::numeric < 0 then
                raise exception 'setting %: % must be a number >= 0, got %',
                    new.key, v_key, new.value -> v_key using errcode = '22023';
            end if;
        end loop;
        if (select sum(value::numeric) from jsonb_each_text(new.value)) = 0 then
            raise exception 'setting %: the weights must not all be 0', new.key
                using errcode = '22023';
        end if;
    elsif new.key like '%\_hours' or new.key like '%\_days' or new.key like '%\_seconds' then
        if jsonb_typeof(new.value) <> 'number' or new.value::numeric <= 0 then
            raise exception 'setting %: expected a number > 0, got %', new.key, new.value
                using errcode = '22023';
        end if;
    elsif tg_op = 'INSERT' and not exists (select from recodb.setting where key = new.key) then
        raise exception 'unknown setting %', new.key using errcode = '22023';
    end if;
    new.updated_at := now();
    return new;
end
$$;

COMMENT ON FUNCTION recodb.setting_validate() IS 'Trigger: validates recodb.setting values by key; raises 22023 on a malformed value';

CREATE FUNCTION recodb.setting_value(p_key text) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO 'recodb', 'pg_temp'
    AS $$
    select value from recodb.setting where key = p_key
$$;

COMMENT ON FUNCTION recodb.setting_value(p_key text) IS 'The jsonb value of setting p_key, or null when there is no such setting';

CREATE FUNCTION recodb.trending(p_limit integer DEFAULT 50, p_offset integer DEFAULT 0) RETURNS TABLE(post_id uuid, score double precision)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'recodb', 'public', 'pg_temp'
    AS $$
declare
    v_weights jsonb := recodb.setting_value('interaction_weights');
    v_half_life_hours double precision := recodb.setting_value('recency_half_life_hours')::float8;
begin
    if p_limit is null or p_limit < 1 or p_limit > 500 then
        raise exception 'p_limit must be between 1 and 500, got %', p_limit using errcode = '22023';
    end if;
    if p_offset is null or p_offset < 0 then
        raise exception 'p_offset must be >= 0, got %', p_offset using errcode = '22023';
    end if;
    return query
    with engagement as (
        select i.post_id,
               sum((v_weights ->> i.interaction_type)::float8
                   * exp(ln(0.5) * extract(epoch from now() - i.created_at) / 3600.0
                         / v_half_life_hours)) as value
        from user_interaction i
        where i.created_at > now() - interval '7 days'
        group by i.post_id
    )
    select e.post_id, e.value / max(e.value) over () as score
    from engagement e
    order by e.value desc, e.post_id
    limit p_limit offset p_offset;
end
$$;

COMMENT ON FUNCTION recodb.trending(p_limit integer, p_offset integer) IS 'Trending posts: (post_id, score in (0, 1]) by type-weighted, recency-decayed engagement over the last 7 days, best first, ties by post_id';

CREATE TABLE public.follows (
    follower_id uuid NOT NULL,
    followee_id uuid NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT follows_check CHECK ((follower_id <> followee_id))
);

CREATE TABLE public.posts (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    author_id uuid,
    content text,
    external_id text,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.recodb_alembic_version (
    version_num character varying(32) NOT NULL
);

CREATE TABLE public.user_interaction (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    post_id uuid NOT NULL,
    interaction_type character varying(50) NOT NULL,
    metadata jsonb,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT user_interaction_type_check CHECK (((interaction_type)::text = ANY ((ARRAY['view'::character varying, 'click'::character varying, 'like'::character varying, 'comment'::character varying, 'share'::character varying])::text[])))
);

CREATE TABLE public.user_recommendation (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    post_id uuid NOT NULL,
    score double precision NOT NULL,
    generated_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL
);

CREATE TABLE public.users (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    username text NOT NULL,
    external_id text,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE recodb.installed_object (
    kind text NOT NULL,
    name text NOT NULL,
    installed_at timestamp with time zone DEFAULT now() NOT NULL
);

COMMENT ON TABLE recodb.installed_object IS 'Objects outside schema recodb that recodb created; downgrade removes only these';

CREATE TABLE recodb.model (
    version integer NOT NULL,
    algorithm text NOT NULL,
    params jsonb DEFAULT '{}'::jsonb NOT NULL,
    status text DEFAULT 'training'::text NOT NULL,
    trained_from timestamp with time zone,
    trained_to timestamp with time zone,
    n_users integer,
    n_posts integer,
    n_interactions bigint,
    metrics jsonb DEFAULT '{}'::jsonb NOT NULL,
    timings jsonb DEFAULT '{}'::jsonb NOT NULL,
    error text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    activated_at timestamp with time zone,
    CONSTRAINT model_status_check CHECK ((status = ANY (ARRAY['training'::text, 'ready'::text, 'active'::text, 'retired'::text, 'failed'::text])))
);

COMMENT ON TABLE recodb.model IS 'Model registry: one row per trained version; at most one is active';

ALTER TABLE recodb.model ALTER COLUMN version ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME recodb.model_version_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE recodb.setting (
    key text NOT NULL,
    value jsonb NOT NULL,
    description text NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

COMMENT ON TABLE recodb.setting IS 'Tunable behaviour as data; values are validated by recodb.setting_validate()';

CREATE TABLE recodb.synthetic_dataset (
    id boolean DEFAULT true NOT NULL,
    params jsonb NOT NULL,
    topics text[] NOT NULL,
    generated_at timestamp with time zone NOT NULL,
    CONSTRAINT synthetic_dataset_id_check CHECK (id)
);

COMMENT ON TABLE recodb.synthetic_dataset IS 'Ground truth of generated data (recodb generate/seed), for the evaluation oracle';

CREATE TABLE recodb.synthetic_post (
    post_id uuid NOT NULL,
    topic smallint NOT NULL,
    quality real NOT NULL
);

CREATE TABLE recodb.synthetic_user (
    user_id uuid NOT NULL,
    topic_weights real[] NOT NULL,
    activity real NOT NULL
);

ALTER TABLE ONLY public.follows
    ADD CONSTRAINT follows_pkey PRIMARY KEY (follower_id, followee_id);

ALTER TABLE ONLY public.posts
    ADD CONSTRAINT posts_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.recodb_alembic_version
    ADD CONSTRAINT recodb_alembic_version_pkc PRIMARY KEY (version_num);

ALTER TABLE ONLY public.user_interaction
    ADD CONSTRAINT user_interaction_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.user_recommendation
    ADD CONSTRAINT user_recommendation_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.user_recommendation
    ADD CONSTRAINT user_recommendation_user_id_post_id_key UNIQUE (user_id, post_id);

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);

ALTER TABLE ONLY recodb.installed_object
    ADD CONSTRAINT installed_object_pkey PRIMARY KEY (kind, name);

ALTER TABLE ONLY recodb.model
    ADD CONSTRAINT model_pkey PRIMARY KEY (version);

ALTER TABLE ONLY recodb.setting
    ADD CONSTRAINT setting_pkey PRIMARY KEY (key);

ALTER TABLE ONLY recodb.synthetic_dataset
    ADD CONSTRAINT synthetic_dataset_pkey PRIMARY KEY (id);

ALTER TABLE ONLY recodb.synthetic_post
    ADD CONSTRAINT synthetic_post_pkey PRIMARY KEY (post_id);

ALTER TABLE ONLY recodb.synthetic_user
    ADD CONSTRAINT synthetic_user_pkey PRIMARY KEY (user_id);

CREATE INDEX follows_followee_idx ON public.follows USING btree (followee_id);

CREATE INDEX idx_user_interaction_post ON public.user_interaction USING btree (post_id, created_at);

CREATE INDEX idx_user_interaction_time ON public.user_interaction USING btree (created_at);

CREATE INDEX idx_user_interaction_user ON public.user_interaction USING btree (user_id, created_at);

CREATE INDEX idx_user_reco_cleanup ON public.user_recommendation USING btree (expires_at);

CREATE INDEX idx_user_reco_expires ON public.user_recommendation USING btree (user_id, expires_at);

CREATE INDEX idx_user_reco_user_score ON public.user_recommendation USING btree (user_id, score DESC);

CREATE INDEX posts_author_created_idx ON public.posts USING btree (author_id, created_at DESC);

CREATE INDEX posts_created_idx ON public.posts USING btree (created_at DESC);

CREATE UNIQUE INDEX posts_external_id_key ON public.posts USING btree (external_id);

CREATE UNIQUE INDEX users_external_id_key ON public.users USING btree (external_id);

CREATE UNIQUE INDEX model_single_active ON recodb.model USING btree ((true)) WHERE (status = 'active'::text);

CREATE TRIGGER setting_validate BEFORE INSERT OR UPDATE ON recodb.setting FOR EACH ROW EXECUTE FUNCTION recodb.setting_validate();

ALTER TABLE ONLY public.follows
    ADD CONSTRAINT follows_followee_id_fkey FOREIGN KEY (followee_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.follows
    ADD CONSTRAINT follows_follower_id_fkey FOREIGN KEY (follower_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.posts
    ADD CONSTRAINT posts_author_id_fkey FOREIGN KEY (author_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.user_interaction
    ADD CONSTRAINT user_interaction_post_id_fkey FOREIGN KEY (post_id) REFERENCES public.posts(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.user_interaction
    ADD CONSTRAINT user_interaction_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.user_recommendation
    ADD CONSTRAINT user_recommendation_post_id_fkey FOREIGN KEY (post_id) REFERENCES public.posts(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.user_recommendation
    ADD CONSTRAINT user_recommendation_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY recodb.synthetic_post
    ADD CONSTRAINT synthetic_post_post_id_fkey FOREIGN KEY (post_id) REFERENCES public.posts(id) ON DELETE CASCADE;

ALTER TABLE ONLY recodb.synthetic_user
    ADD CONSTRAINT synthetic_user_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;

REVOKE ALL ON FUNCTION recodb.setting_value(p_key text) FROM PUBLIC;

REVOKE ALL ON FUNCTION recodb.trending(p_limit integer, p_offset integer) FROM PUBLIC;
