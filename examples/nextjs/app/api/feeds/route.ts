// GET /api/feeds?user_id=<uuid>&limit=20&offset=0
// 200 {user_id, source: "ml_recommendations" | "random_fallback", posts, fallback?, elapsed_ms}
// 400 {error} when an argument is malformed. A failing or slow database is never an error
// here: the feed falls back to random posts and says so in `source` and `fallback`.
import { pools } from "../../../lib/db";
import { getFeed, parseFeedQuery } from "../../../lib/feed";

export const runtime = "nodejs"; // node-postgres needs Node's sockets
export const dynamic = "force-dynamic"; // a feed is per request, never prerendered

export async function GET(request: Request): Promise<Response> {
  const parsed = parseFeedQuery(new URL(request.url).searchParams);
  if (!parsed.ok) return Response.json({ error: parsed.error }, { status: 400 });
  const feed = await getFeed(pools(), parsed.query);
  return Response.json(feed, {
    headers: { "cache-control": "no-store", "x-feed-source": feed.source },
  });
}
