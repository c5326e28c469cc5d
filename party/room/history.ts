/**
 * History pages for members (PROTOCOL R9), over the socket and over HTTP: the same range, the same
 * events, read from the room's storage or, past its retention window, from the archive, with no gap.
 * Non-members of a group are refused; operators may read a group they watch as observers.
 */
import type * as Party from "partykit/server";
import { HistoryQuery, LIMITS, type HistoryRequest, type Identity } from "../protocol/index.ts";
import { errorFrame } from "../protocol/error-frame.ts";
import { historyRange } from "../core/resume.ts";
import { mayJoin } from "../core/access.ts";
import type { RoomCore } from "../core/room-core.ts";
import { errorResponse } from "../adapters/http.ts";
import { safeSend } from "../adapters/sockets.ts";
import { ArchiveUnavailable, type RoomArchive } from "../archive/outbox.ts";
import { historyFrame } from "./frames-out.ts";
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
    if (core.membership && !core.membership.has(state.user.id) && !state.observer) return host.reply(reply, errorFrame("not_member", { ref: request.requestId }));
    try {
      const range = historyRange(core.committedSeq, request.before, request.limit);
      const events = await host.archive.history(range.from, range.before);
      safeSend(reply.socket, historyFrame(request.requestId, events, range.from > 1));
    } catch (error) {
      if (error instanceof ArchiveUnavailable) return host.reply(reply, errorFrame("archive_unavailable", { ref: request.requestId }));
      console.error("history failed", error);
      host.reply(reply, errorFrame("internal", { ref: request.requestId }));
    }
  }

  /** `GET …/history?before=&after=&limit=`; `after` reads forwards (an inbox device catching up). */
  async overHttp(who: Identity, url: URL): Promise<Response> {
    const { host } = this;
    if (!mayJoin(host.room.id, who)) return errorResponse("forbidden");
    const core = host.core();
    if (core.membership && !core.membership.has(who.id)) return errorResponse("not_member");
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
    return new Response(`{"events":[${events.join(",")}],"lastSeq":${committed},"hasMore":${hasMore}}`, { headers: { "content-type": "application/json" } });
  }
}
