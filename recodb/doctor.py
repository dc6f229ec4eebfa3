"""`recodb doctor`: checks of a live database, each finding with its fix (after supabase/splinter).

Every check reads the catalogs or recodb's own tables and returns findings; none changes
anything. A check that can't look (a catalog that needs a superuser) says so at level info
instead of failing. Levels: error (serving is unsafe or broken: `recodb doctor` exits 1),
warning (worth fixing), info.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta

import psycopg
from psycopg import sql

from recodb import schema

APP_ROLES = ("recodb_feed_reader", "recodb_tracker")
OWNER_ROLE = "recodb_owner"
TIMEOUTS = ("statement_timeout", "idle_in_transaction_session_timeout")
MIN_PGVECTOR = (0, 8)
STALE_MODEL = timedelta(days=7)  # data newer than the model by more than this: retrain
STALE_VIEWS = timedelta(hours=1)  # interactions newer than the views by more than this
FUTURE_SKEW = timedelta(days=1)
DEAD_ROWS = 10_000  # with more dead rows than live ones: bloat


@dataclass(frozen=True)
class Finding:
    level: str  # error, warning or info
    check: str
    message: str
    fix: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


Check = Callable[[psycopg.Connection], list[Finding]]


def run(conn: psycopg.Connection) -> list[Finding]:
    """Every check, errors first. The connection should be in autocommit mode: a check that
    fails on a missing privilege rolls back its own savepoint only."""
    revision = schema.current_revision(conn)
    if revision is None or conn.execute("select to_regnamespace('recodb') is null").fetchone()[0]:
        return [
            Finding(
                "error",
                "schema",
                "recodb is not installed in this database",
                "run `recodb migrate` (or `alembic upgrade head`)",
            )
        ]
    findings: list[Finding] = []
    if revision != schema.head_revision():
        findings.append(
            Finding(
                "warning",
                "schema",
                f"the schema is at revision {revision}, not {schema.head_revision()}",
                "run `recodb migrate`",
            )
        )
    for check in CHECKS:
        try:
            with conn.transaction():
                findings += check(conn)
        except psycopg.errors.InsufficientPrivilege as exc:
            findings.append(
                Finding(
                    "info",
                    check.__name__.removeprefix("check_").replace("_", " "),
                    f"could not check: {exc.diag.message_primary}",
                    "run `recodb doctor` as a superuser or the database owner",
                )
            )
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(findings, key=lambda f: order[f.level])


def _existing_app_roles(conn: psycopg.Connection) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "select rolname from pg_roles where rolname = any(%s) order by rolname",
            (list(APP_ROLES),),
        )
    ]


def check_public_schema(conn: psycopg.Connection) -> list[Finding]:
    """`public` writable by PUBLIC or by an app role: a planted function or operator there can
    shadow one a `security definer` function calls."""
    public_can_create = conn.execute(
        "select exists (select from pg_namespace n,"
        " aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a"
        " where n.nspname = 'public' and a.grantee = 0 and a.privilege_type = 'CREATE')"
    ).fetchone()[0]
    if public_can_create:
        return [
            Finding(
                "error",
                "public schema",
                "every role may create objects in schema public (the default before "
                "PostgreSQL 15): one could plant functions or operators that shadow others",
                "revoke create on schema public from public;",
            )
        ]
    apps = _existing_app_roles(conn)
    if not apps:
        return []
    rows = conn.execute(
        "select r.rolname from pg_roles r"
        " where not r.rolsuper"
        " and has_schema_privilege(r.oid, 'public', 'CREATE')"
        " and exists (select from unnest(%s::text[]) app(name)"
        "             where pg_has_role(r.oid, app.name, 'MEMBER'))"
        " order by r.rolname",
        (apps,),
    ).fetchall()
    return [
        Finding(
            "error",
            "public schema",
            f"role {role}, which serves feeds, may create objects in schema public",
            f"revoke create on schema public from {_ident(conn, role)};",
        )
        for (role,) in rows
    ]


def check_function_owners(conn: psycopg.Connection) -> list[Finding]:
    """recodb's `security definer` functions run as their owner: never a superuser."""
    rows = conn.execute(
        "select r.rolname, r.rolsuper, r.rolcanlogin, count(*),"
        "       min(p.oid::regprocedure::text)"
        " from pg_proc p join pg_roles r on r.oid = p.proowner"
        " where p.pronamespace = 'recodb'::regnamespace and p.prosecdef"
        " group by r.rolname, r.rolsuper, r.rolcanlogin order by r.rolname"
    ).fetchall()
    findings = []
    for owner, superuser, can_login, n, example in rows:
        if owner == OWNER_ROLE:
            continue
        fix = (
            f"upgrade (`recodb migrate`) to the revision that hands them to {OWNER_ROLE}, "
            f"or: alter function {example} owner to {OWNER_ROLE}; (and the others)"
        )
        if superuser:
            findings.append(
                Finding(
                    "error",
                    "function owners",
                    f"{n} security definer functions of recodb (e.g. {example}) are owned by "
                    f"superuser {owner}: a flaw in one runs with every privilege",
                    fix,
                )
            )
        elif can_login:
            findings.append(
                Finding(
                    "warning",
                    "function owners",
                    f"{n} security definer functions of recodb are owned by {owner}, a role "
                    "that can log in: whoever logs in as it can replace them",
                    fix,
                )
            )
    return findings


def check_app_role_timeouts(conn: psycopg.Connection) -> list[Finding]:
    """Login roles of the feed app without statement/idle timeouts: a hung client or a slow
    query holds locks and connections instead of failing over to the fallback feed."""
    apps = _existing_app_roles(conn)
    if not apps:
        return []
    server_wide = {
        name
        for (name,) in conn.execute(
            "select name from pg_settings where name = any(%s) and setting <> '0'"
            " and source in ('configuration file', 'command line', 'environment variable')",
            (list(TIMEOUTS),),
        )
    }
    rows = conn.execute(
        """
        select r.rolname,
               array(select split_part(c, '=', 1)
                     from pg_db_role_setting s, unnest(s.setconfig) c
                     where ((s.setrole = r.oid and s.setdatabase in (0, d.oid))
                            or (s.setrole = 0 and s.setdatabase = d.oid))
                       and split_part(c, '=', 2) not in ('0', '0ms', '0s'))
        from pg_roles r, pg_database d
        where d.datname = current_database()
          and r.rolcanlogin and not r.rolsuper
          and exists (select from unnest(%s::text[]) app(name)
                      where pg_has_role(r.oid, app.name, 'MEMBER'))
        order by r.rolname
        """,
        (apps,),
    ).fetchall()
    findings = []
    for role, configured in rows:
        missing = [t for t in TIMEOUTS if t not in configured and t not in server_wide]
        if missing:
            fix = " ".join(
                f"alter role {_ident(conn, role)} set {t} = '{value}';"
                for t, value in zip(TIMEOUTS, ("200ms", "5s"), strict=True)
                if t in missing
            )
            findings.append(
                Finding(
                    "warning",
                    "app role timeouts",
                    f"login role {role} (a member of {'/'.join(apps)}) has no "
                    f"{' and no '.join(missing)}: a stuck client holds locks and connections",
                    fix,
                )
            )
    return findings


def check_hba_trust(conn: psycopg.Connection) -> list[Finding]:
    """pg_hba.conf lines that let anyone connect over TCP without a password."""
    listening = conn.execute("show listen_addresses").fetchone()[0].strip()
    # file_name came with PostgreSQL 16; before, there is one file.
    file_name = "file_name" if conn.info.server_version >= 160000 else "'pg_hba.conf'"
    rows = conn.execute(
        sql.SQL(
            "select line_number, type, database, user_name, address, {}"
            " from pg_hba_file_rules where type like 'host%' and auth_method = 'trust'"
            " order by line_number"
        ).format(sql.SQL(file_name))
    ).fetchall()
    by_level: dict[str, list[str]] = {}
    file = rows[0][5] if rows else ""
    for line, kind, databases, users, address, _ in rows:
        if not listening:
            level = "info"
        elif address in ("127.0.0.1", "::1", "localhost"):
            level = "warning"
        else:
            level = "error"
        who = f"{','.join(databases or [])}/{','.join(users or [])} from {address or 'anywhere'}"
        by_level.setdefault(level, []).append(f"line {line} ({kind} {who})")
    why = {
        "info": "the server does not listen on TCP today, but would let anyone in once it does",
        "warning": "any local user may connect as anyone",
        "error": "anyone who reaches the port is let in as anyone",
    }
    return [
        Finding(
            level,
            "pg_hba trust",
            f"{file}: {', '.join(lines)} trust TCP connections without a password: {why[level]}",
            "use scram-sha-256 instead of trust on those lines, then select pg_reload_conf();",
        )
        for level, lines in by_level.items()
    ]


def check_pgvector(conn: psycopg.Connection) -> list[Finding]:
    row = conn.execute(
        "select installed_version, default_version from pg_available_extensions"
        " where name = 'vector'"
    ).fetchone()
    if row is None or row[0] is None:
        return [
            Finding(
                "error",
                "pgvector",
                "the vector extension is not installed",
                "install pgvector >= 0.8",
            )
        ]
    installed, available = row
    if _version(installed) < MIN_PGVECTOR:
        fix = (
            "alter extension vector update;"
            if _version(available) >= MIN_PGVECTOR
            else "install pgvector >= 0.8 on the server, then: alter extension vector update;"
        )
        return [
            Finding(
                "error",
                "pgvector",
                f"pgvector {installed} is older than 0.8 (iterative index scans are missing: "
                "filtered HNSW searches return short)",
                fix,
            )
        ]
    if _version(available) > _version(installed):
        return [
            Finding(
                "info",
                "pgvector",
                f"pgvector {installed} is installed; the server offers {available}",
                "alter extension vector update;",
            )
        ]
    return []


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


def check_model_indexes(conn: psycopg.Connection) -> list[Finding]:
    """The active model's vector indexes (HNSW graphs, IVFFlat lists for text): without them
    every feed is a sequential scan."""
    row = conn.execute(
        "select version, recodb.model_table_name('post', version),"
        " recodb.model_table_name('user', version)"
        " from recodb.model where status = 'active'"
    ).fetchone()
    if row is None:
        return []
    version, posts, users = row
    # (table, column, operator class, access methods that serve it, the one to build, options)
    sparse = " with (m = 8, ef_construction = 32)"
    expected = [
        (posts, "cf", "vector_ip_ops", ("hnsw",), ""),
        (posts, "cf", "vector_cosine_ops", ("hnsw",), sparse),
    ]
    content_dims = conn.execute(
        "select a.atttypmod from pg_attribute a"
        " where a.attrelid = to_regclass(%s) and a.attname = 'content' and not a.attisdropped",
        (posts,),
    ).fetchone()
    if content_dims and content_dims[0] > 0:
        # As index_model_table() builds it (model_table_name() quotes the name it returns).
        (lists,) = conn.execute(
            sql.SQL("select recodb.text_lists(count(*)) from {} where content is not null").format(
                sql.SQL(posts)
            )
        ).fetchone()
        # Models trained before text got IVFFlat lists have an HNSW graph there: it serves.
        methods = ("ivfflat", "hnsw")
        expected.append(
            (posts, "content", "vector_cosine_ops", methods, f" with (lists = {lists})")
        )
    expected.append((users, "cf", "vector_cosine_ops", ("hnsw",), sparse))
    findings = []
    for table, column, opclass, methods, options in expected:
        if conn.execute("select to_regclass(%s) is null", (table,)).fetchone()[0]:
            findings.append(
                Finding(
                    "error",
                    "model indexes",
                    f"the active model (version {version}) has no table {table}",
                    "train a new model (`recodb train`) or activate another "
                    "(`recodb models rollback`)",
                )
            )
            continue
        indexes = conn.execute(
            """
            select i.indexrelid::regclass::text, i.indisvalid and i.indisready, am.amname
            from pg_index i
            join pg_class c on c.oid = i.indexrelid
            join pg_am am on am.oid = c.relam and am.amname = any (%s)
            join pg_opclass o on o.oid = i.indclass[0] and o.opcname = %s
            join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
            where i.indrelid = %s::regclass and a.attname = %s
            order by i.indisvalid and i.indisready desc, am.amname = %s desc
            """,
            (list(methods), opclass, table, column, methods[0]),
        ).fetchall()
        method = methods[0]
        kind = {"hnsw": "HNSW", "ivfflat": "IVFFlat"}[method]
        fix = (
            f"create index concurrently on {table} using {method} ({column} {opclass}){options};"
            " (or retrain: `recodb train`)"
        )
        if not indexes:
            findings.append(
                Finding(
                    "error",
                    "model indexes",
                    f"{table} ({column}, {opclass}) has no {kind} index: feeds scan the whole "
                    "table",
                    fix,
                )
            )
        elif not indexes[0][1]:
            name = indexes[0][0]
            findings.append(
                Finding(
                    "error",
                    "model indexes",
                    f"index {name} is invalid (an interrupted concurrent build)",
                    f"reindex index concurrently {name};",
                )
            )
        elif indexes[0][2] != method:
            findings.append(
                Finding(
                    "info",
                    "model indexes",
                    f"{table} ({column}) has an HNSW graph, from before recodb indexed text with "
                    "IVFFlat lists: on tightly clustered text it strands some users' probes in "
                    "the wrong cluster (`recodb bench` shows them as mostly missed)",
                    "retrain (`recodb train`), or: " + fix,
                )
            )
    return findings


def check_model_views(conn: psycopg.Connection) -> list[Finding]:
    """The active model's serving views (schema recodb_v<N>), through which the scoring
    functions read its vectors: without them every fresh slate fails. Asks
    recodb.model_search_path(), the check serving makes."""
    row = conn.execute(
        "select version from recodb.model where status = 'active'"
        " and to_regclass(recodb.model_table_name('post', version)) is not null"
        " and to_regclass(recodb.model_table_name('user', version)) is not null"
    ).fetchone()
    if row is None:  # no model, or no tables (check_model_indexes says so)
        return []
    try:
        with conn.transaction():
            conn.execute("select recodb.model_search_path(%s)", row)
    except psycopg.errors.ObjectNotInPrerequisiteState as exc:
        return [
            Finding(
                "error",
                "model views",
                f"the active model: {exc.diag.message_primary}; every fresh slate fails "
                "(SQLSTATE 55000)",
                f"select recodb.create_model_views({row[0]});",
            )
        ]
    return []


def check_model_age(conn: psycopg.Connection) -> list[Finding]:
    """The active model against the data: new interactions only reach the model by training."""
    newest, future = conn.execute(
        "select max(created_at), count(*) filter (where created_at > now() + %s)"
        " from user_interaction",
        (FUTURE_SKEW,),
    ).fetchone()
    findings = []
    if future:
        findings.append(
            Finding(
                "warning",
                "future interactions",
                f"{future} interactions are dated more than {FUTURE_SKEW.days} day in the "
                "future: they count as new for years",
                "delete or correct them: select * from user_interaction where created_at > now();",
            )
        )
    if newest is None:
        return findings
    active = conn.execute(
        "select version, trained_to from recodb.model where status = 'active'"
    ).fetchone()
    if active is None:
        findings.append(
            Finding(
                "warning",
                "model age",
                "there are interactions but no active model: feeds are trending posts only",
                "recodb train",
            )
        )
    elif active[1] is not None:
        newest = min(newest, conn.execute("select now()").fetchone()[0])
        lag = newest - active[1]
        if lag > STALE_MODEL:
            findings.append(
                Finding(
                    "warning",
                    "model age",
                    f"the active model (version {active[0]}) was trained on data up to "
                    f"{active[1]:%Y-%m-%d %H:%M}, {lag.days} days before the newest interaction",
                    "recodb train (nightly, e.g. from cron)",
                )
            )
    return findings


def check_views(conn: psycopg.Connection) -> list[Finding]:
    """recodb's materialized views: populated, and refreshed since the interactions came in."""
    findings = []
    for (name,) in conn.execute(
        "select matviewname from pg_matviews where schemaname = 'recodb' and not ispopulated"
        " order by matviewname"
    ):
        findings.append(
            Finding(
                "error",
                "views",
                f"materialized view recodb.{name} has never been refreshed: readers of it fail",
                f"refresh materialized view recodb.{name}; then run `recodb refresh` regularly",
            )
        )
    if (
        findings
        or conn.execute("select to_regclass('recodb.post_engagement')").fetchone()[0] is None
    ):
        return findings
    try:
        with conn.transaction():
            seen, newest = conn.execute(
                "select (select max(last_interaction_at) from recodb.post_engagement),"
                " (select max(created_at) from user_interaction where created_at <= now())"
            ).fetchone()
    except psycopg.errors.UndefinedColumn:
        return findings
    if newest is not None and (seen is None or newest - seen > STALE_VIEWS):
        since = (
            "never refreshed since data arrived"
            if seen is None
            else (
                f"last refreshed with interactions up to {seen:%Y-%m-%d %H:%M}, "
                f"{_hours(newest - seen)} before the newest"
            )
        )
        findings.append(
            Finding(
                "warning",
                "views",
                f"the engagement views are stale ({since}): trending and fresh posts lag",
                "recodb refresh (recodb refresh --every 60, or --pg-cron)",
            )
        )
    return findings


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f} hours" if hours < 48 else f"{hours / 24:.0f} days"


def check_bloat(conn: psycopg.Connection) -> list[Finding]:
    """Slates are rewritten on every fresh feed: dead rows pile up when autovacuum lags."""
    rows = conn.execute(
        "select schemaname, relname, n_live_tup, n_dead_tup, last_autovacuum, last_vacuum"
        " from pg_stat_user_tables"
        " where (schemaname = 'recodb'"
        "        or (schemaname = 'public' and relname = 'user_recommendation'))"
        "   and n_dead_tup > %s and n_dead_tup > n_live_tup"
        " order by n_dead_tup desc",
        (DEAD_ROWS,),
    ).fetchall()
    return [
        Finding(
            "warning",
            "table bloat",
            f"{schema_name}.{table} has {dead:,} dead rows beside {live:,} live ones "
            f"(last vacuumed {max(filter(None, (auto, manual)), default='never')})",
            f"vacuum (analyze) {schema_name}.{table}; and make autovacuum keep up "
            f"(alter table {schema_name}.{table} set (autovacuum_vacuum_scale_factor = 0.05))",
        )
        for schema_name, table, live, dead, auto, manual in rows
    ]


def check_settings(conn: psycopg.Connection) -> list[Finding]:
    """Stored values outside their key's bounds (kept by an upgrade, or written with the
    trigger disabled) make recommend() or refresh() fail."""
    try:
        with conn.transaction():
            rows = conn.execute(
                "select key, recodb.setting_problem(key, value, kind, min_value, max_value,"
                " default_value) from recodb.setting order by key"
            ).fetchall()
    except psycopg.errors.UndefinedColumn:  # below revision 0005: no bounds to check
        return []
    return [
        Finding("error", "settings", problem, f"recodb settings reset {key}")
        for key, problem in rows
        if problem is not None
    ]


def _ident(conn: psycopg.Connection, name: str) -> str:
    return sql.Identifier(name).as_string(conn)


CHECKS: list[Check] = [
    check_public_schema,
    check_function_owners,
    check_app_role_timeouts,
    check_hba_trust,
    check_pgvector,
    check_model_indexes,
    check_model_views,
    check_model_age,
    check_views,
    check_bloat,
    check_settings,
]
