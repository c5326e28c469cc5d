/**
 * The answer of `GET /archive/search` (party/worker/search-route.ts), shared by the worker, which builds it,
 * and the client's `search()`, which parses it (PROTOCOL I8).
 */
import * as z from "zod/mini";
import { Author, Seq } from "./schema.ts";

export const SearchHit = z.object({
  room: z.string(),
  seq: Seq,
  ts: z.int(),
  author: Author,
  edited: z.boolean(),
  /** Relevance, higher first (three decimals). */
  score: z.number(),
  /** The matched text around the hits, and each hit as a [start, end) pair of offsets into it, for highlighting
   * (validated as arrays of whole numbers: a tuple schema would cost the browser bundle half a KiB). */
  snippet: z.string(),
  highlights: z.array(z.array(z.int())),
});
export type SearchHit = z.infer<typeof SearchHit>;
/** `nextCursor`: pass as `cursor` for the next page; null on the last. */
export const SearchPage = z.object({ results: z.array(SearchHit), nextCursor: z.nullable(z.string()) });
export type SearchPage = z.infer<typeof SearchPage>;
