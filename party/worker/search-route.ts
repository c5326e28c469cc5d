/**
 * `GET /archive/search?q=&room=&sender=&from=&to=&limit=&cursor=` in the worker: full-text search over
 * archived messages of rooms the caller belongs to. The token is verified like a room's (party/auth.ts);
 * membership is enforced inside the SQL (party/archive/sql.ts), never by filtering rows afterwards.
 * Bad input gets a typed error (PROTOCOL I8); an unreachable database `archive_unavailable`; never a stack trace.
 */
import { z } from "zod";
import { UserId, type SearchHit, type SearchPage } from "../protocol/index.ts";
import { tokenFromRequest, verifyToken } from "../adapters/auth.ts";
import { errorResponse, json } from "../adapters/http.ts";
import { archiveConfigFromEnv, withDb } from "../archive/connection.ts";
import { queryTerms, snippet } from "../archive/snippet.ts";
import { SEARCH } from "../archive/sql.ts";

export const SEARCH_LIMITS = { maxQueryChars: 200, maxTerms: 8, maxLimit: 50, maxOffset: 1_000 } as const;

const Millis = z.coerce.number().int().nonnegative().max(8.64e15);
export const SearchQuery = z
  .object({
    q: z.string().max(SEARCH_LIMITS.maxQueryChars),
    room: z.string().min(1).max(256).optional(),
    sender: z.optional(UserId),
    from: Millis.optional(),
    to: Millis.optional(),
    limit: z.coerce.number().int().min(1).max(SEARCH_LIMITS.maxLimit).default(20),
    cursor: z.string().regex(/^\d{1,6}$/, "cursor comes from a previous page").optional(),
    /** PROTOCOL R28: only the thread under this message (with the message itself); needs `room`. */
    thread: z.coerce.number().int().positive().optional(),
  })
  .strict()
  .refine((q) => q.thread === undefined || q.room !== undefined, { message: "thread needs room", path: ["thread"] });

export async function searchRoute(request: Request, env: Record<string, unknown>): Promise<Response> {
  if (request.method !== "GET") return errorResponse("bad_frame", "Search is GET /archive/search?q=...");
  const auth = await verifyToken(tokenFromRequest(request), env);
  if (!auth.ok) return errorResponse(auth.code, auth.message);
  const params = Object.fromEntries([...new URL(request.url).searchParams].filter(([key]) => key !== "token"));
  const parsed = SearchQuery.safeParse(params);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return errorResponse("bad_frame", issue ? `${issue.path.join(".") || "query"}: ${issue.message}` : "Invalid search query.");
  }
  const query = parsed.data;
  const terms = queryTerms(query.q, SEARCH_LIMITS.maxTerms);
  if (terms.length === 0) return errorResponse("bad_frame", "q: give at least one character to search for.");
  const offset = query.cursor ? Number(query.cursor) : 0;
  if (offset > SEARCH_LIMITS.maxOffset) return errorResponse("bad_frame", `cursor: at most ${SEARCH_LIMITS.maxOffset} results are paged through.`);
  if (query.from !== undefined && query.to !== undefined && query.from >= query.to) return errorResponse("bad_frame", "from must be before to.");
  const config = archiveConfigFromEnv(env);
  if (!config) return errorResponse("archive_unavailable", "Search needs the archive (KAIWA_DATABASE_URL).");
  let rows: Array<Record<string, unknown>>;
  try {
    const result = await withDb(config, (db) =>
      db.query(SEARCH, [auth.identity.id, terms, query.q, query.room ?? null, query.sender ?? null, query.from ?? null, query.to ?? null, query.limit + 1, offset, query.thread ?? null]),
    );
    rows = result.rows;
  } catch (error) {
    console.error("search failed", error);
    return errorResponse("archive_unavailable");
  }
  const hits: SearchHit[] = rows.slice(0, query.limit).map((row) => {
    const { text, highlights } = snippet(String(row.body), terms);
    return {
    room: String(row.room_id),
    seq: Number(row.seq),
    ts: Number(row.ts),
    author: { id: String(row.author_id), name: String(row.author_name) },
    edited: row.edited_by !== null,
    score: Math.round(Number(row.score) * 1000) / 1000,
    snippet: text,
    highlights,
    };
  });
  return json({ results: hits, nextCursor: rows.length > query.limit ? String(offset + query.limit) : null } satisfies SearchPage);
}
