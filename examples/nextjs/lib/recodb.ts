// Typed wrappers of recodb's public SQL functions (schema `recodb`), and of its HTTP API as an
// alternative. The SQL signatures are recodb's contract: see the README's "Serving from SQL".
//
// The SQL functions take any node-postgres Pool, Client or PoolClient. Connect as a login role
// that is a member of recodb_feed_reader (recommend, similar_*, trending, serving_status) or
// recodb_tracker (those and track_interaction); neither can read a table directly.
import type { Client, Pool, PoolClient } from "pg";

export type Queryable = Pool | PoolClient | Client;

export type Reason = "collaborative_filtering" | "content" | "trending" | "fresh" | "following";

export type InteractionType = "view" | "click" | "like" | "comment" | "share";

export interface Recommendation {
  post_id: string;
  score: number; // in [0, 1], best first
  reason: Reason;
}

export interface SimilarPost {
  post_id: string;
  similarity: number; // cosine, in [0, 1]
}

export interface SimilarUser {
  user_id: string;
  similarity: number;
}

export interface TrendingPost {
  post_id: string;
  score: number; // engagement velocity over the top post's
}

export interface ServingStatus {
  model_version: number;
  model_trained_to: Date;
  model_activated_at: Date;
}

export interface RecommendOptions {
  limit?: number; // 1..500, default 50
  offset?: number; // >= 0, default 0; pages after the first read the stored slate
  excludeSeen?: boolean; // default true
}

/** The user's feed, best first. An unknown user gets the cold-start feed, not an error. */
export async function recommend(
  db: Queryable,
  userId: string,
  { limit = 50, offset = 0, excludeSeen = true }: RecommendOptions = {},
): Promise<Recommendation[]> {
  const { rows } = await db.query<Recommendation>(
    "select post_id, score, reason from recodb.recommend($1, $2, $3, $4)",
    [userId, limit, offset, excludeSeen],
  );
  return rows;
}

/** Posts nearest to a post by cosine of their vectors. */
export async function similarPosts(
  db: Queryable,
  postId: string,
  limit = 20,
): Promise<SimilarPost[]> {
  const { rows } = await db.query<SimilarPost>(
    "select post_id, similarity from recodb.similar_posts($1, $2)",
    [postId, limit],
  );
  return rows;
}

/** Users nearest to a user by cosine of their vectors. */
export async function similarUsers(
  db: Queryable,
  userId: string,
  limit = 20,
): Promise<SimilarUser[]> {
  const { rows } = await db.query<SimilarUser>(
    "select user_id, similarity from recodb.similar_users($1, $2)",
    [userId, limit],
  );
  return rows;
}

/** Posts by engagement velocity, as of the last `recodb refresh`. */
export async function trending(db: Queryable, limit = 50, offset = 0): Promise<TrendingPost[]> {
  const { rows } = await db.query<TrendingPost>(
    "select post_id, score from recodb.trending($1, $2)",
    [limit, offset],
  );
  return rows;
}

/** Records an interaction (needs recodb_tracker); returns the new interaction's id. */
export async function trackInteraction(
  db: Queryable,
  userId: string,
  postId: string,
  type: InteractionType,
  metadata: Record<string, unknown> | null = null,
): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    "select recodb.track_interaction($1, $2, $3, $4) as id",
    [userId, postId, type, metadata === null ? null : JSON.stringify(metadata)],
  );
  return rows[0].id;
}

/** The active model, or null when none is active (the feed is then trending and fresh). */
export async function servingStatus(db: Queryable): Promise<ServingStatus | null> {
  const { rows } = await db.query<ServingStatus>(
    "select model_version, model_trained_to, model_activated_at from recodb.serving_status()",
  );
  return rows[0] ?? null;
}

// --- The HTTP API (`recodb serve`), for apps that don't talk to the database themselves ----

export interface GenerateResponse {
  user_id: string;
  recommendations: Recommendation[];
  metadata: { total: number; model_version: string | null; generated_at: string };
}

export interface SimilarPostsResponse {
  post_id: string;
  similar: SimilarPost[];
}

export interface TrendingResponse {
  posts: TrendingPost[];
}

export interface HealthResponse {
  status: "healthy" | "degraded";
  timestamp: string;
  model_version: string | null;
  model_loaded: boolean;
  database: "ok" | "unreachable";
}

export class RecodbHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`recodb API answered ${status}: ${body.slice(0, 200)}`);
    this.name = "RecodbHttpError";
  }
}

export interface HttpClientOptions {
  baseUrl: string; // e.g. http://api:8000
  token?: string; // the API's bearer token, when it requires one
  timeoutMs?: number; // per request, default 3000
}

/** A client of the Litestar app: the same functions over HTTP, with the seed's JSON. */
export class RecodbHttpClient {
  private readonly baseUrl: string;
  private readonly token?: string;
  private readonly timeoutMs: number;

  constructor({ baseUrl, token, timeoutMs = 3000 }: HttpClientOptions) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.token = token;
    this.timeoutMs = timeoutMs;
  }

  recommend(userId: string, options: RecommendOptions = {}): Promise<GenerateResponse> {
    return this.request<GenerateResponse>("POST", "/recommendations/generate", {
      user_id: userId,
      limit: options.limit ?? 50,
      offset: options.offset ?? 0,
      context: { exclude_seen: options.excludeSeen ?? true },
    });
  }

  async trackInteraction(
    userId: string,
    postId: string,
    type: InteractionType,
    metadata?: Record<string, unknown>,
  ): Promise<void> {
    await this.request("POST", "/interactions/track", {
      user_id: userId,
      post_id: postId,
      interaction_type: type,
      ...(metadata === undefined ? {} : { metadata }),
    });
  }

  similarPosts(postId: string, limit = 20): Promise<SimilarPostsResponse> {
    return this.request<SimilarPostsResponse>("GET", `/posts/${encodeURIComponent(postId)}/similar?limit=${limit}`);
  }

  trending(limit = 50, offset = 0): Promise<TrendingResponse> {
    return this.request<TrendingResponse>("GET", `/trending?limit=${limit}&offset=${offset}`);
  }

  health(): Promise<HealthResponse> {
    return this.request<HealthResponse>("GET", "/health");
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const response = await fetch(this.baseUrl + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
      cache: "no-store",
    });
    const text = await response.text();
    if (!response.ok) throw new RecodbHttpError(response.status, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }
}
