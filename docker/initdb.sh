#!/bin/sh
# recodb's roles. The postgres image runs this once, as the superuser, when the `db` volume is
# created (/docker-entrypoint-initdb.d); the migrations and docker/grants.sql do the rest.
#
#   recodb_admin        LOGIN CREATEROLE, owns the database: migrations (`alembic upgrade
#                       head`) and training (`recodb train`). Not a superuser.
#   recodb_feed_reader  NOLOGIN: may execute recommend, similar_*, trending, serving_status
#   recodb_tracker      NOLOGIN: the same and track_interaction (grants come from sql/)
#   recodb_api          LOGIN, member of recodb_tracker: the HTTP app (`recodb serve`)
#   recodb_refresher    LOGIN: may execute recodb.refresh() and nothing else (`recodb refresh`)
#   feed_app            LOGIN, member of recodb_feed_reader: the Next.js feed's recommend call
#   feed_web            LOGIN, may read `posts`: the Next.js app's own connection (its fallback)
# None of them can read recodb's tables; recodb_owner (created by the migrations) owns them.
set -eu
psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v dbname="$POSTGRES_DB" \
    -v admin_password="$RECODB_ADMIN_PASSWORD" \
    -v api_password="$RECODB_API_PASSWORD" \
    -v refresher_password="$RECODB_REFRESHER_PASSWORD" \
    -v feed_app_password="$FEED_APP_PASSWORD" \
    -v feed_web_password="$FEED_WEB_PASSWORD" <<'SQL'
create extension if not exists vector;  -- as the superuser; the migrations find it there
create role recodb_admin login createrole password :'admin_password';
-- A role recodb_admin creates (recodb_owner, in the migrations) is granted to it with SET and
-- INHERIT, so it can make recodb_owner the owner of the engine's functions (PostgreSQL 16+
-- grants the creator ADMIN only).
alter role recodb_admin set createrole_self_grant = 'set, inherit';
alter database :"dbname" owner to recodb_admin;
-- Created by recodb_admin, so that it administers them (the migrations grant to them).
set role recodb_admin;
create role recodb_feed_reader nologin;
create role recodb_tracker nologin;
reset role;
create role recodb_api login password :'api_password' in role recodb_tracker;
create role recodb_refresher login password :'refresher_password';
create role feed_app login password :'feed_app_password' in role recodb_feed_reader;
alter role feed_app set statement_timeout = '200ms';
alter role feed_app set idle_in_transaction_session_timeout = '5s';
create role feed_web login password :'feed_web_password';
alter role feed_web set statement_timeout = '2s';
SQL
