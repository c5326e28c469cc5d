/**
 * Full-text search over the archive (`GET /archive/search`, PROTOCOL R14a): messages of the rooms the
 * token's user belongs to, best first, with highlighted snippets. Web-standard fetch only, and callable
 * from a page on another origin (PROTOCOL R70). The answer is parsed with the shared schema (PROTOCOL I8).
 */
import { SearchPage } from "../party/protocol/index.ts";
import { KaiwaError, isErrorCode } from "./errors.ts";
import { isLocalHost } from "./hosts.ts";

export type SearchOptions = {
  /** The kaiwa host, as for KaiwaRoom: `127.0.0.1:1999` or `kaiwa.example.com`. */
  host: string;
  /** A token, or a getter (called once per search) for a fresh one. */
  token: string | (() => string | Promise<string>);
  q: string;
  /** Only this room; only this author; only between these times (ms since the epoch, `from` inclusive). */
  room?: string;
  sender?: string;
  from?: number;
  to?: number;
  /** Results per page (1-50, default 20); `cursor` is the previous page's `nextCursor`. */
  limit?: number;
  cursor?: string;
  /** `http` for local hosts (as the room's socket picks `ws`, client/hosts.ts), else `https`, unless given. */
  protocol?: "http" | "https";
  fetch?: typeof fetch;
  signal?: AbortSignal;
};

/** Resolves a page of hits; rejects with a KaiwaError (`bad_frame`, `unauthorized`, `archive_unavailable`: retryable). */
export async function search(options: SearchOptions): Promise<SearchPage> {
  const params = new URLSearchParams({ q: options.q });
  for (const key of ["room", "sender", "from", "to", "limit", "cursor"] as const) {
    const value = options[key];
    if (value !== undefined) params.set(key, String(value));
  }
  const token = typeof options.token === "function" ? await options.token() : options.token;
  const protocol = options.protocol ?? (isLocalHost(options.host) ? "http" : "https");
  const doFetch = options.fetch ?? fetch;
  const response = await doFetch(`${protocol}://${options.host}/archive/search?${params}`, {
    headers: { authorization: `Bearer ${token}` },
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const body: unknown = await response.json().catch(() => undefined);
  if (!response.ok) throw errorOf(response.status, body);
  const page = SearchPage.safeParse(body);
  if (!page.success) throw new KaiwaError("internal", "The search answer does not match the protocol.");
  return page.data;
}

function errorOf(status: number, body: unknown): KaiwaError {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof error?.code === "string" && isErrorCode(error.code) ? error.code : status >= 500 ? "internal" : "bad_frame";
  return new KaiwaError(code, typeof error?.message === "string" ? error.message : `HTTP ${status}`);
}
