/**
 * A device's requests other than DMs (PROTOCOL §9): `list` is answered from the conversation list; `read`
 * and `sync` are asked of the room for the device's user, and a read's snapshot updates the list (and so
 * every device) before the device hears "read".
 */
import { ERRORS, type ErrorCode, type Identity, type InboxClientFrame, type Notification, type RoomEvent } from "../protocol/index.ts";
import { errorFrame } from "../protocol/error-frame.ts";
import { safeSend } from "../adapters/sockets.ts";
import type { InboxCore } from "../core/inbox-core.ts";
import type { Conn, RoomCall } from "./types.ts";

/** What the inbox shell lends this part. */
export interface RequestsHost {
  /** The conversation list (read only). */
  conversations(): InboxCore;
  /** Applies room snapshots to the list, stores them and tells every device. */
  applyNotifications(notifications: Notification[]): Promise<void>;
  callRoom: RoomCall;
}

const send = safeSend;
type Frame<T extends InboxClientFrame["type"]> = Extract<InboxClientFrame, { type: T }>;

export class DeviceRequests {
  constructor(private readonly host: RequestsHost) {}

  list(conn: Conn, frame: Frame<"list">): void {
    const list = this.host.conversations();
    const page = list.page(frame.before, frame.limit);
    send(conn, JSON.stringify({ type: "list", requestId: frame.requestId, ...page, totalUnread: list.totalUnread() }));
  }

  async read(conn: Conn, user: Identity, frame: Frame<"read">): Promise<void> {
    const { room, seq } = frame;
    const requestId = frame.requestId ?? frame.room;
    try {
      const response = await this.host.callRoom(room, "/read", { method: "POST", body: JSON.stringify({ seq }) }, user);
      const body = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
      if (!response.ok) return sendRoomError(conn, body, requestId);
      const snapshot = { ...(body as Omit<Notification, "events">), events: [] };
      await this.host.applyNotifications([snapshot]);
      send(conn, JSON.stringify({ type: "read", requestId, room, readSeq: snapshot.readSeq }));
    } catch (error) {
      console.error("read failed", error);
      send(conn, JSON.stringify(errorFrame("room_unavailable", { ref: requestId })));
    }
  }

  async sync(conn: Conn, user: Identity, frame: Frame<"sync">): Promise<void> {
    const { room, after, limit, requestId } = frame;
    try {
      const response = await this.host.callRoom(room, `/history?after=${after}&limit=${limit}`, { method: "GET" }, user);
      const body = (await response.json().catch(() => undefined)) as { events?: RoomEvent[]; lastSeq?: number; hasMore?: boolean } | undefined;
      if (!response.ok || !body?.events) return sendRoomError(conn, body, requestId);
      send(conn, JSON.stringify({ type: "sync", requestId, room, events: body.events, lastSeq: body.lastSeq ?? 0, hasMore: body.hasMore ?? false }));
    } catch (error) {
      console.error("sync failed", error);
      send(conn, JSON.stringify(errorFrame("room_unavailable", { ref: requestId })));
    }
  }
}

/** The room's error, passed on with the request's id; anything unrecognisable is `room_unavailable`. */
function sendRoomError(conn: Conn, body: unknown, requestId: string): void {
  const error = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
  const code: ErrorCode = error?.code && error.code in ERRORS ? (error.code as ErrorCode) : "room_unavailable";
  send(conn, JSON.stringify(errorFrame(code, { ...(error?.message ? { message: error.message } : {}), ref: requestId })));
}
