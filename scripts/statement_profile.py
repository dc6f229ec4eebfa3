"""Where a fresh slate's time goes, statement by statement, inside the server.

    uv run python scripts/statement_profile.py [--slates 600] [--warm 100]

Calls recodb.recommend() at offset 0 for --warm users, then for --slates other users (each
slate deleted first, so every call computes one), and prints pg_stat_statements' execution
time of every statement those calls ran, nested ones included, per slate: the functions'
own statements (the probes, the candidates, the blend) each on a row of their own, without
auto_explain's cost on every statement.

pg_stat_statements must be loaded when the server starts, and must count nested statements:
    alter system set shared_preload_libraries = 'pg_stat_statements';
    alter system set pg_stat_statements.track = 'all';
then restart the server (`recodb db stop`; the next command starts it). The statistics are
reset before the timed slates, and the extension is created in the database if it is missing.
Uses RECODB_HOME or DATABASE_URL like the CLI; run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import sys

import psycopg

from recodb import db
from recodb.training import registry


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive whole number")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slates", type=_positive, default=600, help="timed fresh slates")
    parser.add_argument("--warm", type=_positive, default=100, help="untimed slates first")
    parser.add_argument("--rows", type=_positive, default=25, help="statements to print")
    args = parser.parse_args()

    with psycopg.connect(db.resolve().url, autocommit=True) as conn:
        loaded = conn.execute(
            "select 'pg_stat_statements' = any (string_to_array(current_setting("
            "'shared_preload_libraries'), ', ')) and current_setting('pg_stat_statements.track',"
            " true) = 'all'"
        ).fetchone()[0]
        if not loaded:
            print(
                "statement_profile: pg_stat_statements is not loaded with track = all (see --help)",
                file=sys.stderr,
            )
            sys.exit(2)
        version = registry.active_version(conn)
        if version is None:
            print("statement_profile: no active model: train one first", file=sys.stderr)
            sys.exit(2)
        conn.execute("create extension if not exists pg_stat_statements")
        users = [
            r[0]
            for r in conn.execute(
                "select u.id from public.users u order by md5(u.id::text) limit %s",
                (args.warm + args.slates,),
            )
        ]
        if len(users) < args.warm + args.slates:
            parser.error(f"only {len(users)} users: ask for fewer slates")

        def fresh(user) -> None:
            conn.execute("delete from recodb.slate where user_id = %s", (user,))
            conn.execute("select count(*) from recodb.recommend(%s)", (user,))

        for user in users[: args.warm]:
            fresh(user)
        conn.execute("select pg_stat_statements_reset()")
        for user in users[args.warm :]:
            fresh(user)
        rows = conn.execute(
            "select s.calls, s.total_exec_time / %(n)s,"
            " regexp_replace(left(s.query, 200), '\\s+', ' ', 'g')"
            " from pg_stat_statements s where s.dbid = (select oid from pg_database"
            " where datname = current_database())"
            " and s.query not like '%%pg_stat_statements%%'"
            " order by s.total_exec_time desc limit %(rows)s",
            {"n": args.slates, "rows": args.rows},
        ).fetchall()
    print(f"{args.slates} fresh slates, model version {version}: ms a slate, calls a slate")
    print(f"{'ms':>7}  {'calls':>5}  statement")
    for calls, ms, query in rows:
        print(f"{ms:7.3f}  {calls / args.slates:5.2f}  {query[:100]}")


if __name__ == "__main__":
    main()
