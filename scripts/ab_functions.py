"""A/B of engine functions on one database: fresh slates timed inside the server.

    uv run python scripts/ab_functions.py --before REV sql/internal/slate_parts.sql [...]
        [--set slate_parts:ivfflat.probes=3 ...] [--pairs 8] [--users 500]

Arm "before" is the named sql/ files as git revision REV has them; arm "now" is the working
tree's, with each --set applied to it (`alter function recodb.<function> set <setting> =
<value>`): `--before HEAD` and a --set time one setting of the functions as they are. Each pair
applies one arm (`create or replace`, as `recodb migrate` does), then the other, and times
`recommend(user)` for the same users in a PL/pgSQL loop (`clock_timestamp()`, their slates
deleted first, after 50 other users to warm the connection's plans): the mean per fresh slate,
without a client's round trip. Each pair takes other users, whose slates are computed once
untimed before either arm (so that the first arm does not pay for reading their pages from
disk), and which arm goes first alternates. The working tree's functions are applied again at
the end, whatever happens (which also undoes every --set). Uses RECODB_HOME or DATABASE_URL like
the CLI; the database needs an active model. Run it on a quiet machine, or compare pairs.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

import psycopg
from psycopg import sql

from recodb import db
from recodb.config import source_path

TIMED = """
create or replace function pg_temp.ab_fresh(p_users uuid[]) returns double precision
language plpgsql as $$
declare
    v_user uuid;
    v_started timestamptz;
begin
    delete from recodb.slate where user_id = any (p_users);
    v_started := clock_timestamp();
    foreach v_user in array p_users loop
        perform count(*) from recodb.recommend(v_user);
    end loop;
    return extract(epoch from clock_timestamp() - v_started) * 1000 / cardinality(p_users);
end
$$
"""


def texts_at(revision: str | None, files: list[str]) -> list[str]:
    """The files' texts at `revision` (None: the working tree)."""
    root = source_path(".")
    if revision is None:
        return [(root / name).read_text() for name in files]
    out = []
    for name in files:
        shown = subprocess.run(
            ["git", "show", f"{revision}:{name}"], cwd=root, capture_output=True, text=True
        )
        if shown.returncode != 0:
            sys.exit(f"ab_functions.py: {name} at {revision}: {shown.stderr.strip()}")
        out.append(shown.stdout)
    return out


def apply(url: str, texts: list[str]) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("set local check_function_bodies = off")
        for text in texts:
            conn.execute(text)


def parse_set(text: str) -> tuple[str, str, str]:
    """`function:setting=value` → (function, setting, value)."""
    function, sep, rest = text.partition(":")
    setting, eq, value = rest.partition("=")
    if not (sep and eq and function and setting and value):
        raise ValueError(f"--set {text}: expected function:setting=value")
    return function, setting, value


def alter(url: str, sets: list[tuple[str, str, str]]) -> list[str]:
    """Apply each --set to recodb's one function of that name; what the catalogue then holds
    for each (`function: setting=value`)."""
    applied = []
    with psycopg.connect(url) as conn:
        for function, setting, value in sets:
            found = conn.execute(
                "select p.oid::regprocedure::text from pg_proc p"
                " where p.pronamespace = 'recodb'::regnamespace and p.proname = %s",
                (function,),
            ).fetchall()
            if len(found) != 1:
                sys.exit(f"ab_functions.py: --set: recodb has {len(found)} functions {function}")
            conn.execute(
                sql.SQL("alter function {} set {} = {}").format(
                    sql.SQL(found[0][0]), sql.Identifier(*setting.split(".")), sql.Literal(value)
                )
            )
            (config,) = conn.execute(
                "select p.proconfig from pg_proc p where p.oid = %s::regprocedure", (found[0][0],)
            ).fetchone()
            applied += [f"{function}: {c}" for c in config or [] if c.startswith(f"{setting}=")]
    return applied


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", help="sql/ files, relative to the repository")
    parser.add_argument("--before", required=True, help="the git revision of arm 'before'")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FUNCTION:SETTING=VALUE",
        help="a setting of a recodb function in arm 'now' (repeatable)",
    )
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--users", type=int, default=500, help="users timed per arm and pair")
    args = parser.parse_args()
    if args.pairs < 1 or args.users < 1:
        parser.error("--pairs and --users must be at least 1")
    try:
        sets = [parse_set(text) for text in args.set]
    except ValueError as exc:
        parser.error(str(exc))
    for name in args.files:
        if not (source_path(".") / name).is_file() or Path(name).suffix != ".sql":
            parser.error(f"{name}: not a .sql file of the repository")
    arms = {"before": texts_at(args.before, args.files), "now": texts_at(None, args.files)}
    url = db.resolve().url
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "select recodb.model_table_name('user', version) from recodb.model"
            " where status = 'active'"
        ).fetchone()
        if row is None:
            parser.error("no active model: train one first")
        users = [
            r[0]
            for r in conn.execute(
                f"select user_id from {row[0]} order by md5(user_id::text) limit %s",  # noqa: S608
                ((args.pairs + 1) * args.users + 50,),
            )
        ]
    if len(users) < args.users + 50:
        parser.error(f"the model has {len(users)} users: too few for --users {args.users}")
    chunks = (len(users) - 50) // args.users  # other users for each pair, while there are
    results: dict[str, list[float]] = {arm: [] for arm in arms}
    try:
        for pair in range(args.pairs):
            chunk = users[50 + (pair % chunks) * args.users :][: args.users]
            order = list(arms) if pair % 2 == 0 else list(arms)[::-1]
            with psycopg.connect(url, autocommit=True) as conn:  # read their pages once first
                conn.execute(TIMED)
                conn.execute("select pg_temp.ab_fresh(%s)", (chunk,))
            for arm in order:
                apply(url, arms[arm])
                if arm == "now":
                    applied = alter(url, sets)
                    if pair == 0 and applied:
                        print("now: " + ", ".join(applied), flush=True)
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(TIMED)
                    conn.execute("select pg_temp.ab_fresh(%s)", (users[:50],))
                    (ms,) = conn.execute("select pg_temp.ab_fresh(%s)", (chunk,)).fetchone()
                results[arm].append(ms)
            print(
                f"pair {pair + 1}: "
                + ", ".join(f"{arm} {results[arm][-1]:.2f} ms" for arm in order)
                + f" (first: {order[0]})",
                flush=True,
            )
    finally:
        apply(url, arms["now"])
    wins = sum(n < b for n, b in zip(results["now"], results["before"], strict=True))
    for arm, values in results.items():
        print(f"{arm}: median {statistics.median(values):.2f} ms per fresh slate")
    # Pairs move together with the machine: their differences say more than the arms' medians.
    differences = [n - b for n, b in zip(results["now"], results["before"], strict=True)]
    print(
        f"now faster in {wins} of {args.pairs} pairs;"
        f" now - before, median of the pairs: {statistics.median(differences):+.2f} ms"
    )


if __name__ == "__main__":
    main()
