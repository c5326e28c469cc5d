/**
 * History pages for members (PROTOCOL R9), over the socket and over HTTP: the same range, the same
 * events, read from the room's storage or, past its retention window, from the archive, with no gap.
 * Non-members of a group are refused; operators may read a group they watch as observers.
 */
import type * as Party from "partykit/server";
import { HistoryQuery, LIMITS, ThreadQuery, type HistoryRequest, type Identity, type ThreadRequest } from "../protocol/index.ts";
import { errorFrame } from "../protocol/error-frame.ts";
import { historyRange } from "../core/resume.ts";
import { httpReadRefusal, socketReadRefusal } from "../core/access.ts";
import type { RoomCore } from "../core/room-core.ts";
import { errorResponse } from "../adapters/http.ts";
import { safeSend } from "../adapters/sockets.ts";
import { ArchiveUnavailable, type RoomArchive } from "../archive/outbox.ts";
import { historyFrame, threadFrame } from "../protocol/frames-out.ts";
import { extrasJson, readerExtras } from "./reader-extras.ts";
import { readThread } from "./threads.ts";
import type { SocketReply } from "./socket-reply.ts";
import type { ConnState, Reply } from "./types.ts";
import type { ErrorFrame } from "../protocol/index.ts";

/** What history reads need from the rest of the room. */
export interface HistoryHost {
  readonly room: Party.Room;
  readonly archive: RoomArchive;
  core(): RoomCore;
  reply(reply: Reply, frame: ErrorFrame): void;
}

export class RoomHistory {
  constructor(private readonly host: HistoryHost) {}

  /** The socket's `history` request: answered at once, not queued behind commands. */
  async overSocket(reply: SocketReply, state: ConnState, request: HistoryRequest): Promise<void> {
    const { host } = this;
    const core = host.core();
    const refused = socketReadRefusal(core.membership, { who: state.user, observer: state.observer === true });
    if (refused) return host.reply(reply, errorFrame(refused.code, { ref: request.requestId }));
    try {
      const range = historyRange(core.committedSeq, request.before, request.limit);
      const events = await host.archive.history(range.from, range.before);
      const extras = extrasJson(await readerExtras(host.room.storage, host.archive, state.user.id, events));
      safeSend(reply.socket, historyFrame(request.requestId, events, range.from > 1, extras));
    } catch (error) {
      this.failedOverSocket(reply, request.requestId, "history", error);
    }
  }

  /** `GET …/history?before=&after=&limit=`; `after` reads forwards (an inbox device catching up). */
  async overHttp(who: Identity, url: URL): Promise<Response> {
    const { host } = this;
    const core = host.core();
    const refused = this.refuseOverHttp(core, who);
    if (refused) return refused;
    const query = HistoryQuery.safeParse(Object.fromEntries(url.searchParams));
    if (!query.success) return errorResponse("bad_frame", `before/after must be integers; limit 1..${LIMITS.maxHistoryLimit}.`);
    const committed = core.committedSeq;
    const { after, before, limit } = query.data;
    const range = after !== undefined ? { from: after + 1, before: Math.min(after + 1 + limit, committed + 1) } : historyRange(committed, before, limit);
    const hasMore = after !== undefined ? range.before <= committed : range.from > 1;
    let events: string[];
    try {
      events = await host.archive.history(range.from, range.before);
    } catch (error) {
      if (error instanceof ArchiveUnavailable) return errorResponse("archive_unavailable");
      throw error;
    }
    const extras = extrasJson(await readerExtras(host.room.storage, host.archive, who.id, events));
    return new Response(`{"events":[${events.join(",")}],"lastSeq":${committed},"hasMore":${hasMore}${extras}}`, { headers: { "content-type": "application/json" } });
  }

  /** PROTOCOL R23: a `thread` request, answered at once like history; members only, as every read. */
  async threadOverSocket(reply: SocketReply, state: ConnState, request: ThreadRequest): Promise<void> {
    const { host } = this;
    const core = host.core();
    const refused = socketReadRefusal(core.membership, { who: state.user, observer: state.observer === true });
    if (refused) return host.reply(reply, errorFrame(refused.code, { ref: request.requestId }));
    try {
      const page = await readThread(host.room.storage, host.archive, core, request.parent, request.after, request.limit);
      if (!page) return host.reply(reply, errorFrame("not_found", { ref: request.requestId, message: `No message ${request.parent}.` }));
      const extras = extrasJson(await readerExtras(host.room.storage, host.archive, state.user.id, [page.parentJson, ...page.eventsJson]));
      safeSend(reply.socket, threadFrame(request.requestId, page.parentJson, page.eventsJson, page.hasMore, extras));
    } catch (error) {
      this.failedOverSocket(reply, request.requestId, "thread read", error);
    }
  }

  /** `GET …/thread?parent=&after=&limit=` (PROTOCOL R23): the same page as the socket's, as JSON. */
  async threadOverHttp(who: Identity, url: URL): Promise<Response> {
    const { host } = this;
    const core = host.core();
    const refused = this.refuseOverHttp(core, who);
    if (refused) return refused;
    const query = ThreadQuery.safeParse(Object.fromEntries(url.searchParams));
    if (!query.success) return errorResponse("bad_frame", `parent, after and limit must be integers; limit 1..${LIMITS.maxHistoryLimit}.`);
    const { parent, after, limit } = query.data;
    try {
      const page = await readThread(host.room.storage, host.archive, core, parent, after, limit);
      if (!page) return errorResponse("not_found", `No message ${parent}.`);
      const extras = extrasJson(await readerExtras(host.room.storage, host.archive, who.id, [page.parentJson, ...page.eventsJson]));
      return new Response(`{"parent":${page.parentJson},"events":[${page.eventsJson.join(",")}],"hasMore":${page.hasMore}${extras}}`, { headers: { "content-type": "application/json" } });
    } catch (error) {
      if (error instanceof ArchiveUnavailable) return errorResponse("archive_unavailable");
      throw error;
    }
  }

  /** Every HTTP read's gate, one rule for all of them (core/access.ts). */
  private refuseOverHttp(core: RoomCore, who: Identity): Response | undefined {
    const refused = httpReadRefusal({ rawId: this.host.room.id, group: core.membership, restrictions: core.moderation }, who, Date.now());
    return refused ? errorResponse(refused.code, refused.message) : undefined;
  }

  /** A socket read that threw: the archive's outage is typed and retryable, anything else `internal`. */
  private failedOverSocket(reply: SocketReply, requestId: string, what: string, error: unknown): void {
    if (error instanceof ArchiveUnavailable) return this.host.reply(reply, errorFrame("archive_unavailable", { ref: requestId }));
    console.error(`${what} failed`, error);
    this.host.reply(reply, errorFrame("internal", { ref: requestId }));
  }

  /** `GET …/pins` (PROTOCOL R24): the pinned list and each pinned message's current record. */
  async pinsOverHttp(who: Identity): Promise<Response> {
    const { host } = this;
    const core = host.core();
    const refused = this.refuseOverHttp(core, who);
    if (refused) return refused;
    const pins = core.pins.committed();
    let messages: string[];
    try {
      messages = await host.archive.records(pins.map((pin) => pin.seq));
    } catch (error) {
      if (error instanceof ArchiveUnavailable) return errorResponse("archive_unavailable");
      throw error;
    }
    return new Response(`{"pins":${JSON.stringify(pins)},"messages":[${messages.join(",")}]}`, { headers: { "content-type": "application/json" } });
  }
}

