// The feed: recodb.recommend() first, a random feed when that call fails or times out.
// Plain TypeScript over node-postgres, so the route handler, the page and a Node script
// (scripts/check-feed.ts) share it.
import type { Pool } from "pg";

import { recommend, type Reason } from "./recodb";

export type FeedSource = "ml_recommendations" | "random_fallback";

export interface FeedPost {
  post_id: string;
  score: number | null; // null in the random fallback
  reason: Reason | "random";
}

/** Why the feed fell back: a category a dashboard can count, and the error's code. */
export interface FallbackCause {
  reason: "not_configured" | "statement_timeout" | "unavailable" | "refused" | "empty" | "error";
  code?: string; // SQLSTATE or Node errno, never the message (it can name hosts and roles)
}

export interface Feed {
  user_id: string;
  source: FeedSource;
  posts: FeedPost[];
  fallback?: FallbackCause & { from: "database" | "recent_posts" | "none" };
  elapsed_ms: number;
}

export interface FeedQuery {
  userId: string;
  limit: number;
  offset: number;
}

export interface FeedConnections {
  recodb: Pool | null; // a member of recodb_feed_reader
  app: Pool | null; // the app's own role, which reads posts
}

export const MAX_LIMIT = 100;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Reads ?user_id=&limit=&offset=; bad input is the caller's error (400), never a fallback. */
export function parseFeedQuery(
  params: URLSearchParams,
): { ok: true; query: FeedQuery } | { ok: false; error: string } {
  const userId = params.get("user_id") ?? "";
  if (!UUID.test(userId)) return { ok: false, error: "user_id: expected a UUID" };
  const limit = Number(params.get("limit") ?? "20");
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    return { ok: false, error: `limit: expected a whole number in 1..${MAX_LIMIT}` };
  }
  const offset = Number(params.get("offset") ?? "0");
  if (!Number.isInteger(offset) || offset < 0 || offset > 10_000) {
    return { ok: false, error: "offset: expected a whole number in 0..10000" };
  }
  return { ok: true, query: { userId: userId.toLowerCase(), limit, offset } };
}

/** Sorts a failed call into a FallbackCause. */
export function classify(error: unknown): FallbackCause {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === "57014") return { reason: "statement_timeout", code };
  if (typeof code === "string" && /^(28|3D)/.test(code)) return { reason: "refused", code };
  if (typeof code === "string" && /^(08|57P)/.test(code)) return { reason: "unavailable", code };
  if (typeof code === "string" && /^E[A-Z]+$/.test(code)) return { reason: "unavailable", code };
  // node-postgres's own client-side timeouts carry no code.
  if (/timeout|terminated/i.test(message)) return { reason: "unavailable", code: "client_timeout" };
  return typeof code === "string" ? { reason: "error", code } : { reason: "error" };
}

// Post ids this process served lately: the random feed of last resort when the app's own
// database connection fails too. Bounded; lost on restart (then the feed is empty).
const RECENT_LIMIT = 1000;
const recentPostIds = new Set<string>();

function remember(posts: FeedPost[]): void {
  for (const post of posts) {
    recentPostIds.delete(post.post_id);
    recentPostIds.add(post.post_id);
  }
  for (const id of recentPostIds) {
    if (recentPostIds.size <= RECENT_LIMIT) break;
    recentPostIds.delete(id);
  }
}

function shuffled<T>(items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}

// The seed's "random shuffle" fallback: a shuffle of the newest posts (posts_created_idx keeps
// it an index scan of 1,000 rows however large `posts` is).
const RANDOM_POSTS = `
  select id::text as post_id
  from (select id from posts order by created_at desc limit 1000) newest
  order by random()
  limit $1`;

async function randomPosts(
  app: Pool | null,
  limit: number,
): Promise<{ posts: FeedPost[]; from: "database" | "recent_posts" | "none" }> {
  if (app) {
    try {
      const { rows } = await app.query<{ post_id: string }>(RANDOM_POSTS, [limit]);
      return {
        posts: rows.map((r) => ({ post_id: r.post_id, score: null, reason: "random" })),
        from: "database",
      };
    } catch (error) {
      console.warn("recodb-example: the random fallback failed too:", classify(error));
    }
  }
  if (recentPostIds.size > 0) {
    const posts = shuffled([...recentPostIds])
      .slice(0, limit)
      .map((post_id): FeedPost => ({ post_id, score: null, reason: "random" }));
    return { posts, from: "recent_posts" };
  }
  return { posts: [], from: "none" };
}

/** The feed of one page: recodb's when it answers in time, else a random one. */
export async function getFeed(connections: FeedConnections, query: FeedQuery): Promise<Feed> {
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
  let cause: FallbackCause;
  if (connections.recodb) {
    try {
      const posts = await recommend(connections.recodb, query.userId, {
        limit: query.limit,
        offset: query.offset,
      });
      // An empty first page means no eligible posts: show something rather than nothing.
      // (An empty later page is the end of the feed.)
      if (posts.length > 0 || query.offset > 0) {
        remember(posts);
        return {
          user_id: query.userId,
          source: "ml_recommendations",
          posts,
          elapsed_ms: elapsed(),
        };
      }
      cause = { reason: "empty" };
    } catch (error) {
      cause = classify(error);
      console.warn("recodb-example: recommend failed, serving the random feed:", cause);
    }
  } else {
    cause = { reason: "not_configured" };
  }
  // Random pages don't page: every offset gets a fresh shuffle.
  const { posts, from } = await randomPosts(connections.app, query.limit);
  return {
    user_id: query.userId,
    source: "random_fallback",
    posts,
    fallback: { ...cause, from },
    elapsed_ms: elapsed(),
  };
}
