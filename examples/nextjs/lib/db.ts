// The two connections of the feed, as node-postgres pools, configured from the environment:
//
//   RECODB_DATABASE_URL  a login role that is a member of recodb_feed_reader: it may execute
//                        recodb.recommend() and friends, and read no table.
//   DATABASE_URL         the app's own connection (its usual role, which reads `posts`): the
//                        random fallback comes from here, so it still works when the feed role
//                        is refused, slow, or pointed at a broken database.
//
// For a Unix socket (the embedded server of `recodb db url`), put the socket folder in the
// URL's `host` parameter: postgresql://feed_app:secret@localhost/recodb?host=/path/to/socket
import { Pool, type PoolConfig } from "pg";

function integerFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${name} must be a positive whole number of milliseconds, not ${raw}`);
  }
  return value;
}

function poolFor(connectionString: string, statementTimeoutMs: number): Pool {
  const config: PoolConfig = {
    connectionString,
    max: integerFromEnv("RECODB_POOL_SIZE", 5),
    // The server cancels a slow statement (SQLSTATE 57014) and the connection stays usable;
    // the client-side query_timeout is the backstop for a server that stopped answering.
    statement_timeout: statementTimeoutMs,
    query_timeout: statementTimeoutMs + 1000,
    connectionTimeoutMillis: integerFromEnv("RECODB_CONNECT_TIMEOUT_MS", 1000),
    idleTimeoutMillis: 30_000,
    application_name: "recodb-nextjs-example",
  };
  const pool = new Pool(config);
  // An idle client whose server went away emits 'error' on the pool; without a listener, Node
  // would exit. The next query gets a fresh connection (or fails over to the fallback).
  pool.on("error", (error) => console.warn("recodb-example: idle connection lost:", error.message));
  return pool;
}

interface Pools {
  recodb: Pool | null;
  app: Pool | null;
}

// One set of pools per process, kept across hot reloads in `next dev`.
const globalForPools = globalThis as unknown as { recodbExamplePools?: Pools };

export function pools(): Pools {
  if (!globalForPools.recodbExamplePools) {
    const recodbUrl = process.env.RECODB_DATABASE_URL;
    const appUrl = process.env.DATABASE_URL;
    globalForPools.recodbExamplePools = {
      recodb: recodbUrl
        ? poolFor(recodbUrl, integerFromEnv("RECODB_STATEMENT_TIMEOUT_MS", 200))
        : null,
      app: appUrl ? poolFor(appUrl, integerFromEnv("FALLBACK_STATEMENT_TIMEOUT_MS", 500)) : null,
    };
  }
  return globalForPools.recodbExamplePools;
}

/** Closes the pools (scripts and tests; a server keeps them for its lifetime). */
export async function closePools(): Promise<void> {
  const current = globalForPools.recodbExamplePools;
  globalForPools.recodbExamplePools = undefined;
  if (current) await Promise.all([current.recodb?.end(), current.app?.end()]);
}
