/**
 * Reading a room over plain HTTP and posting to it (PROTOCOL R40-R44): for viewers behind a CDN and for
 * clients that cannot keep a WebSocket (the long-polling fallback). `poll()` fetches `latest` (with
 * If-None-Match, so an unchanged room costs a 304) and returns the events above the poller's position, each
 * once and in seq order, reading the sealed pages in between when it fell behind, so it never shows a gap
 * (PROTOCOL I5). The caller decides when to poll: every `pollIntervalMs` the room names. Web-standard fetch
 * only: browsers, Node, Deno and Bun.
 */
import { LatestDocument, PageDocument, PostAnswer, latestPath, pageOf, pagePath, type PostBody, type RoomEvent } from "../party/protocol/index.ts";
import { KaiwaError, isErrorCode } from "./errors.ts";

export type LogPollerOptions = {
  /** Base URL of the kaiwa server (or of the CDN in front of it), e.g. `https://chat.example`. */
  baseUrl: string;
  room: string;
  /** A token, for rooms that are not public and for posting; readers of a public room should send none (they share cache entries). */
  token?: string | (() => string | Promise<string>);
  /** Where to start: `start` reads the whole log from seq 1; `latest` (default) only what `latest` shows from now on. */
  from?: "start" | "latest";
  fetch?: typeof fetch;
};

export class KaiwaLogPoller {
  /** The stream and the last seq handed out (PROTOCOL I5). */
  epoch: string | undefined;
  lastSeq = 0;
  /** What the room last asked pollers to wait between polls. */
  pollIntervalMs = 1000;
  private etag: string | undefined;

  constructor(private readonly options: LogPollerOptions) {}

  /** One poll: the new events, in order. An epoch change (a room that lost its storage) starts again from the new stream. */
  async poll(): Promise<RoomEvent[]> {
    const response = await this.get(latestPath(this.options.room), this.etag);
    if (response.status === 304) return [];
    const latest = LatestDocument.parse(await this.json(response));
    this.pollIntervalMs = latest.pollIntervalMs;
    // The position moves only when the whole poll succeeded: a failed one is repeated, nothing is lost.
    let position = this.lastSeq;
    if (this.epoch !== latest.epoch) {
      const fresh = this.epoch === undefined && this.options.from !== "start";
      position = fresh ? Math.max(0, (latest.events[0]?.seq ?? latest.lastSeq + 1) - 1) : 0;
    }
    const out: RoomEvent[] = [];
    const take = (events: RoomEvent[]) => {
      for (const event of events) {
        if (event.seq <= position) continue;
        if (event.seq !== position + 1) throw new KaiwaError("internal", `the log skipped from ${position} to ${event.seq}`);
        out.push(event);
        position = event.seq;
      }
    };
    const firstShown = latest.events[0]?.seq ?? latest.lastSeq + 1;
    // Fell behind what latest shows: the sealed pages in between first (their current versions).
    for (let page = pageOf(position + 1); position + 1 < firstShown && page <= pageOf(firstShown - 1); page++) {
      const named = latest.pages.find((entry) => entry.page === page);
      const doc = PageDocument.parse(await this.json(await this.get(named?.url ?? pagePath(this.options.room, page))));
      take(doc.events);
    }
    take(latest.events);
    this.epoch = latest.epoch;
    this.lastSeq = position;
    this.etag = response.headers.get("etag") ?? undefined;
    return out;
  }

  /** `POST …/messages` (PROTOCOL R44): resolves once durable with `{seq, ts}`; a retry with the same clientId and body gets the same answer. */
  async post(body: PostBody): Promise<PostAnswer> {
    const response = await this.request(`/parties/room/${this.options.room}/messages`, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
    return PostAnswer.parse(await this.json(response));
  }

  private get(path: string, etag?: string): Promise<Response> {
    return this.request(path, etag ? { headers: { "if-none-match": etag } } : {});
  }

  private async request(path: string, init: RequestInit & { headers?: Record<string, string> }): Promise<Response> {
    const source = this.options.token;
    const token = source === undefined ? undefined : typeof source === "string" ? source : await source();
    const headers = { ...init.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) };
    return (this.options.fetch ?? fetch)(this.options.baseUrl + path, { ...init, headers });
  }

  /** The body of a 2xx, or the server's typed error as a KaiwaError. */
  private async json(response: Response): Promise<unknown> {
    const raw = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      body = undefined;
    }
    if (response.ok) return body;
    const error = (body as { error?: { code?: unknown; message?: unknown; retryAfterMs?: unknown } } | undefined)?.error;
    const code = typeof error?.code === "string" && isErrorCode(error.code) ? error.code : "internal";
    const retryAfterMs = typeof error?.retryAfterMs === "number" ? error.retryAfterMs : undefined;
    throw new KaiwaError(code, typeof error?.message === "string" ? error.message : `HTTP ${response.status}`, retryAfterMs === undefined ? {} : { retryAfterMs });
  }
}
