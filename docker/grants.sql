-- Grants on objects the migrations create, for the roles of docker/initdb.sh. Run as
-- recodb_admin after every `alembic upgrade head` (the `grants` service); idempotent.
-- The feed roles need nothing here: sql/ grants them their functions.

-- `recodb refresh` checks the schema revision, then calls recodb.refresh() (security definer:
-- the views belong to recodb_owner).
grant usage on schema recodb to recodb_refresher;
grant select on public.recodb_alembic_version to recodb_refresher, recodb_api;
grant execute on function recodb.refresh() to recodb_refresher;

-- The Next.js app's own role reads posts for its random fallback (and to show them).
grant select on public.posts to feed_web;
