/**
 * The room's log over HTTP for pollers, CDNs and clients without a WebSocket (PROTOCOL R40-R43): `latest`
 * (the newest events and the sealed pages before them) and sealed pages under versioned URLs that
 * shared caches may keep forever, while moderation still wins within one poll interval.
 *
 * Nothing new is stored: pages are read from the log (one key per event, PROTOCOL R2.1) with the same
 * reads as history (archive/outbox.ts, which also reaches below the room's retention window), and a
 * page's version follows from its records (core/log-view.ts). What is kept is in memory and rebuilt on
 * demand: rendered pages with their versions (bounded by bytes) and the current `latest`. A committed edit or
 * deletion drops the pages whose content it may change; everything else about a sealed page is fixed.
 */
import type * as Party from "partykit/server";
import {
  LATEST_NAMED_PAGES,
  LOG_PAGE_SIZE,
  RoomEvent,
  isSealed,
  pageOf,
  pageSeqs,
  roomKind,
  versionPath,
  type Identity,
  type LogPath,
  type NamedPage,
} from "../protocol/index.ts";
import { logReadRefusal } from "../core/access.ts";
import { cacheControl, isPublicLog, latestTag, matchesTag, moderatedView, outsideTargets, pageTag } from "../core/log-view.ts";
import type { Accepted, RoomCore } from "../core/room-core.ts";
import { errorResponse } from "../adapters/http.ts";
import { ArchiveUnavailable, type RoomArchive } from "../archive/outbox.ts";

/** What the log reader needs from the rest of the room. */
export interface LogReaderHost {
  readonly room: Party.Room;
  readonly archive: RoomArchive;
  core(): RoomCore;
  /** The decoded room id (its kind decides whether it may be public). */
  roomId(): string;
}

type RenderedPage = { version: number; body: string };

/** Rendered sealed pages kept in memory, in bytes (a page is at most 100 events of up to ~40 KB each). */
const PAGE_CACHE_BYTES = 8 * 1024 * 1024;

export class RoomLogReader {
  private readonly rendered = new Map<number, RenderedPage>();
  private renderedBytes = 0;
  /** Bumped by every committed edit or deletion: a render that began before one is not kept. */
  private generation = 0;
  private latest: { key: string; body: string; etag: string } | undefined;
  private readonly inflight = new Map<string, Promise<unknown>>();
  /** What the stats route shows: answers by kind, so a test (or an operator) sees how often caches came to the origin. */
  readonly counters = { latest: 0, pages: 0, redirects: 0, notModified: 0, refused: 0 };

  constructor(private readonly host: LogReaderHost) {}

  /**
   * A batch is durable (called as the room's state takes it): an edit changes its target's page; a
   * deletion also the pages that may hold the target's edits, which all come after the target.
   */
  committed(accepted: Accepted[]): void {
    for (const { event } of accepted) {
      if (event.kind !== "edit" && event.kind !== "delete") continue;
      this.generation++;
      const first = pageOf(event.target);
      const drop = (page: number) => event.kind === "delete" ? page >= first : page === first;
      for (const [page, entry] of [...this.rendered]) {
        if (!drop(page)) continue;
        this.rendered.delete(page);
        this.renderedBytes -= entry.body.length;
      }
    }
  }

  /** `GET …/log/…` (PROTOCOL R40-R42); `who` is undefined for an anonymous reader. */
  async handle(request: Request, who: Identity | undefined, path: LogPath): Promise<Response> {
    const core = this.host.core();
    const isPublic = isPublicLog(roomKind(this.host.roomId()), core.settings);
    const refused = this.refusal(who, isPublic, core);
    if (refused) {
      this.counters.refused++;
      return refused;
    }
    const poll = core.settings.pollIntervalMs;
    try {
      if (path.kind === "latest") {
        this.counters.latest++;
        const latest = await this.latestDocument(core);
        return this.answer(request, latest.body, latest.etag, cacheControl("latest", isPublic, poll));
      }
      if (!isSealed(path.page, core.committedSeq)) return noStore(errorResponse("not_found", `Page ${path.page} is not sealed yet: its events are in ${"`latest`"}.`));
      if (path.kind === "version" && path.epoch !== core.epoch) return noStore(errorResponse("not_found", "That page is of an earlier stream of this room (its epoch changed): read latest."));
      const page = await this.page(path.page, core);
      if (path.kind === "page" || path.version < page.version) {
        // The page's current version: the redirect is cached no longer than the interval moderation wins within.
        this.counters.redirects++;
        const location = versionPath(this.host.room.id, path.page, core.epoch, page.version) + new URL(request.url).search;
        return new Response(null, { status: 302, headers: { location, "cache-control": cacheControl("redirect", isPublic, poll) } });
      }
      if (path.version > page.version) return noStore(errorResponse("not_found", "No such version of this page (yet)."));
      this.counters.pages++;
      return this.answer(request, page.body, pageTag(core.epoch, path.page, page.version), cacheControl("sealed", isPublic, poll));
    } catch (error) {
      if (error instanceof ArchiveUnavailable) return noStore(errorResponse("archive_unavailable"));
      throw error;
    }
  }

  stats() {
    return { ...this.counters, pagesInMemory: this.rendered.size };
  }

  /** Who may read a room that is not public: exactly who may read its history (PROTOCOL R40, R9, R14). */
  private refusal(who: Identity | undefined, isPublic: boolean, core: RoomCore): Response | undefined {
    const refused = logReadRefusal({ rawId: this.host.room.id, group: core.membership, restrictions: core.moderation, isPublic }, who, Date.now());
    return refused ? noStore(errorResponse(refused.code, refused.message)) : undefined;
  }

  /** 200 with the body, or 304 when the reader already has it; both carry the tag and the caching rule. */
  private answer(request: Request, body: string, etag: string, cache: string): Response {
    const headers = { etag, "cache-control": cache };
    if (matchesTag(request.headers.get("if-none-match"), etag)) {
      this.counters.notModified++;
      return new Response(null, { status: 304, headers });
    }
    return new Response(body, { headers: { ...headers, "content-type": "application/json" } });
  }

  /** The current `latest` (PROTOCOL R41): rebuilt when the committed seq or the poll interval changed. */
  private latestDocument(core: RoomCore): Promise<{ body: string; etag: string }> {
    const lastSeq = core.committedSeq;
    const poll = core.settings.pollIntervalMs;
    const key = `${core.epoch}.${lastSeq}.${poll}`;
    if (this.latest?.key === key) return Promise.resolve(this.latest);
    return this.once(`latest:${key}`, async () => {
      const view = await this.view(Math.max(1, lastSeq - LOG_PAGE_SIZE + 1), lastSeq + 1);
      const newestSealed = Math.floor(lastSeq / LOG_PAGE_SIZE);
      const pages: NamedPage[] = [];
      for (let page = newestSealed; page >= 1 && page > newestSealed - LATEST_NAMED_PAGES; page--) {
        const { version } = await this.page(page, core);
        pages.push({ ...pageSeqs(page), page, version, url: versionPath(this.host.room.id, page, core.epoch, version) });
      }
      const head = { room: this.host.room.id, epoch: core.epoch, lastSeq, pageSize: LOG_PAGE_SIZE, pollIntervalMs: poll, openPage: pageOf(lastSeq + 1) };
      const body = `${JSON.stringify(head).slice(0, -1)},"events":[${view.jsons.join(",")}],"pages":${JSON.stringify(pages)}}`;
      const latest = { key, body, etag: latestTag(core.epoch, lastSeq, poll) };
      this.latest = latest;
      return latest;
    });
  }

  /** Sealed page `n` at its current version, rendered once per version. */
  private page(n: number, core: RoomCore): Promise<RenderedPage> {
    const cached = this.rendered.get(n);
    if (cached) {
      this.rendered.delete(n); // most recently used last
      this.rendered.set(n, cached);
      return Promise.resolve(cached);
    }
    const generation = this.generation;
    return this.once(`page:${n}@${generation}`, async () => {
      const { from, through } = pageSeqs(n);
      const view = await this.view(from, through + 1);
      const head = { room: this.host.room.id, epoch: core.epoch, page: n, from, through, version: view.version };
      const entry = { version: view.version, body: `${JSON.stringify(head).slice(0, -1)},"events":[${view.jsons.join(",")}]}` };
      if (generation === this.generation) this.keep(n, entry);
      return entry;
    });
  }

  private keep(n: number, entry: RenderedPage): void {
    this.rendered.set(n, entry);
    this.renderedBytes += entry.body.length;
    for (const [page, old] of this.rendered) {
      if (this.renderedBytes <= PAGE_CACHE_BYTES || page === n) break;
      this.rendered.delete(page);
      this.renderedBytes -= old.body.length;
    }
  }

  /** The events with from <= seq < before as HTTP readers see them (moderated, PROTOCOL R43), and their version. */
  private async view(from: number, before: number): Promise<{ jsons: string[]; version: number }> {
    const { archive } = this.host;
    const events = (await archive.history(from, before)).map((json) => ({ json, event: parseStored(json) }));
    const targets = new Map<number, RoomEvent>();
    await Promise.all(
      outsideTargets(events.map(({ event }) => event)).map(async (seq) => {
        const [json] = await archive.history(seq, seq + 1);
        if (json) targets.set(seq, parseStored(json));
      }),
    );
    return moderatedView(events, targets);
  }

  /** Concurrent requests for the same thing share one read (a thousand pollers missing a cache at once cost one). */
  private once<T>(key: string, make: () => Promise<T>): Promise<T> {
    const running = this.inflight.get(key) as Promise<T> | undefined;
    if (running) return running;
    const promise = make().finally(() => this.inflight.delete(key));
    this.inflight.set(key, promise);
    return promise;
  }
}

function parseStored(json: string): RoomEvent {
  const parsed = RoomEvent.safeParse(JSON.parse(json));
  if (!parsed.success) throw new Error(`corrupt event record: ${parsed.error.message}`);
  return parsed.data;
}

/** Errors are never cached: the next request asks again (PROTOCOL R42). */
export function noStore(response: Response): Response {
  response.headers.set("cache-control", "no-store");
  return response;
}
