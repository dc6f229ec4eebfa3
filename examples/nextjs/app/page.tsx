// The feed of one user, rendered on the server with the same getFeed() as /api/feeds.
import { randomUUID } from "node:crypto";

import { pools } from "../lib/db";
import { getFeed, parseFeedQuery } from "../lib/feed";

export const dynamic = "force-dynamic";

type SearchParams = Promise<Record<string, string | string[] | undefined>>;

export default async function FeedPage({ searchParams }: { searchParams: SearchParams }) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(await searchParams)) {
    if (typeof value === "string") params.set(key, value);
  }
  const parsed = params.has("user_id") ? parseFeedQuery(params) : null;
  const feed = parsed?.ok ? await getFeed(pools(), parsed.query) : null;

  return (
    <main>
      <h1>recodb feed</h1>
      <form method="get" style={{ display: "flex", gap: 8 }}>
        <input
          name="user_id"
          placeholder="a user id (uuid)"
          defaultValue={params.get("user_id") ?? ""}
          style={{ flex: 1 }}
        />
        <input name="limit" type="number" min={1} max={100} defaultValue={20} />
        <button type="submit">Show feed</button>
      </form>
      <p>
        <a href={`/?user_id=${randomUUID()}`}>A user recodb has never seen</a> gets the
        cold-start feed (trending and fresh posts).
      </p>
      {parsed && !parsed.ok && <p role="alert">{parsed.error}</p>}
      {feed && (
        <section>
          <p>
            source: <strong data-source={feed.source}>{feed.source}</strong>
            {feed.fallback && ` (${feed.fallback.reason}, random posts from ${feed.fallback.from})`}
            {` · ${feed.posts.length} posts in ${feed.elapsed_ms} ms`}
          </p>
          <ol>
            {feed.posts.map((post) => (
              <li key={post.post_id}>
                <code>{post.post_id}</code> {post.reason}
                {post.score !== null && ` · ${post.score.toFixed(3)}`}
              </li>
            ))}
          </ol>
        </section>
      )}
    </main>
  );
}
