// Calls the /api/feeds route handler under plain Node (no Next server) and prints its answer
// as one JSON line: {"status": 200, "body": {...}}. The connections come from the environment
// as in the app (RECODB_DATABASE_URL, DATABASE_URL; see lib/db.ts).
//
//   npx tsx scripts/check-feed.ts <user_id> [limit] [offset]
import { GET } from "../app/api/feeds/route";
import { closePools } from "../lib/db";

async function main(): Promise<void> {
  const [userId = "", limit = "20", offset = "0"] = process.argv.slice(2);
  const url = new URL("http://localhost/api/feeds");
  url.search = new URLSearchParams({ user_id: userId, limit, offset }).toString();
  const response = await GET(new Request(url));
  console.log(JSON.stringify({ status: response.status, body: await response.json() }));
  await closePools();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
