/**
 * The inbox actor: one per user, at /parties/inbox/<userId>. A thin shell around InboxCore: it holds the
 * user's device sockets (one socket per device carries every DM), routes DMs to their rooms, applies room
 * notifications, keeps the offline queue and the push hook, and drives the user's online status.
 */
import type * as Party from "partykit/server";
import { nanoid } from "nanoid";
import {
  ConnectQuery,
  InboxClientFrame,
  LIMITS,
  NotifyBody,
  PresenceBody,
  dmRoomId,
  ERRORS,
  type ErrorCode,
  type Identity,
  type InboxWelcome,
  type Notification,
  type PresenceState,
  type RoomEvent,
} from "../protocol/index.ts";
import { identityFrom, IDENTITY_HEADER } from "../worker/auth.ts";
import { drainBody, errorResponse, json } from "../adapters/http.ts";
import { errorFrame } from "../protocol/error-frame.ts";
import { gateRequest, gateSocket, isActorCall, callActor } from "../worker/service-auth.ts";
import { decodeFrame } from "../protocol/decode.ts";
import { answerClose, safeSend } from "../adapters/sockets.ts";
import { InboxCore, toConversation, type Entry } from "../core/inbox-core.ts";
import { DmRouter, type Device } from "./dm-router.ts";
import { PushQueue, pushConfigFrom, type PushPayload } from "../adapters/push.ts";

type ConnState = { user: Identity; session: string };
type Conn = Party.Connection<ConnState>;
type InboxMeta = { user: string; origin: string; lastSeen: number | null };
const ENTRY_PREFIX = "c:";
const AWAY_PREFIX = "q:";
const PRESENCE_PREFIX = "p:";
/** Rooms that acked this user's DMs and have not yet notified this inbox up to that seq. */
const OWED_PREFIX = "o:";
const META_KEY = "meta";

export default class InboxServer implements Party.Server {
  readonly options: Party.ServerOptions;
  private readonly bootId = nanoid(10);
  private core = new InboxCore();
  private meta: InboxMeta | undefined;
  private readonly presence = new Map<string, PresenceState & { at: number }>();
  private readonly router: DmRouter;
  private readonly push: PushQueue;
  /** Rooms that acked this user's DMs and have not yet notified up to that seq (mirrors `o:` keys). */
  private readonly owed = new Map<string, number>();
  /** Devices whose welcome is being built: frames for them wait here so they come after it. */
  private readonly welcoming = new Map<string, string[]>();
  /** Notifications are applied one at a time, so stored entries follow the order they were decided in. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(readonly room: Party.Room) {
    this.options = { hibernate: room.env.KAIWA_HIBERNATE === "1" };
    this.router = new DmRouter(
      (dmRoom, body, who) => this.callRoom(dmRoom, "/commands", { method: "POST", body }, who),
      (dmRoom, seq) => this.owe(dmRoom, seq),
    );
    this.push = new PushQueue(room.storage, pushConfigFrom(room.env), (at) => void room.storage.setAlarm(at).catch((e) => console.error("push alarm", e)));
  }

  // ---- Worker side (I7): only the user opens their own inbox; actor routes need a service token.

  static onBeforeConnect(request: Party.Request, lobby: Party.Lobby) {
    return gateSocket(request as unknown as Request, lobby, (who) => (who.id === lobby.id ? undefined : "This is another user's inbox."));
  }

  static onBeforeRequest(request: Party.Request, lobby: Party.Lobby) {
    return gateRequest(request as unknown as Request, lobby);
  }

  async onStart() {
    const [entries, presence, meta, owed] = await Promise.all([
      this.room.storage.list<Entry>({ prefix: ENTRY_PREFIX }),
      this.room.storage.list<PresenceState & { at: number }>({ prefix: PRESENCE_PREFIX }),
      this.room.storage.get<InboxMeta>(META_KEY),
      this.room.storage.list<number>({ prefix: OWED_PREFIX }),
    ]);
    this.core = new InboxCore(entries.values());
    for (const [key, seq] of owed) {
      const room = key.slice(OWED_PREFIX.length);
      if ((this.core.get(room)?.lastSeq ?? 0) < seq) this.owed.set(room, seq);
    }
    for (const state of presence.values()) this.presence.set(state.user, state);
    this.meta = meta;
    void this.push.run();
    void this.wakeOwingRooms();
  }

  /**
   * A room notifies after its write, and its alarm retries; but partykit dev loses alarms when it restarts,
   * so an inbox starting up also wakes every room that still owes it a notification. On Cloudflare the
   * alarm alone would do; this costs one call per owing room, and none once notifications arrive.
   */
  private async wakeOwingRooms(): Promise<void> {
    for (const dmRoom of this.owed.keys()) {
      const owner = this.meta?.user;
      if (!owner) return;
      this.callRoom(dmRoom, "/wake", { method: "POST", body: "{}" }, { id: owner, name: owner })
        .then((response) => response.body?.cancel())
        .catch((error) => console.error(`waking ${dmRoom} failed`, error));
    }
  }

  /**
   * Not awaited on purpose: the output gate holds the device's ack until this write is durable, and an
   * await here would serialise every batch behind its own storage round-trip (measured: DM p99 ~1 s).
   */
  private async owe(dmRoom: string, seq: number): Promise<void> {
    if ((this.core.get(dmRoom)?.lastSeq ?? 0) >= seq || (this.owed.get(dmRoom) ?? 0) >= seq) return;
    this.owed.set(dmRoom, seq);
    this.room.storage.put(OWED_PREFIX + dmRoom, seq).catch((error) => console.error("remembering an owed notification failed", error));
  }

  async onAlarm() {
    await this.push.run();
  }

  // ---- Devices.

  async onConnect(conn: Conn, ctx: Party.ConnectionContext) {
    const who = identityFrom(ctx.request as unknown as Request);
    if (!who || who.id !== this.room.id) return refuse(conn, "forbidden", 4003);
    const query = ConnectQuery.safeParse(Object.fromEntries(new URL(ctx.request.url).searchParams));
    if (!query.success) return refuse(conn, "bad_frame", 4008);
    conn.setState({ user: who, session: query.data.session });
    this.welcoming.set(conn.id, []);
    for (const other of this.room.getConnections<ConnState>()) {
      if (other.id !== conn.id && other.state?.session === query.data.session) other.close(4012, "session_replaced");
    }
    const wasOnline = this.deviceCount(conn.id) > 0;
    const at = Date.now();
    let away: Map<string, unknown>;
    try {
      await this.remember(who.id, new URL(ctx.request.url).origin, null);
      away = await this.room.storage.list({ prefix: AWAY_PREFIX });
    } catch (error) {
      console.error("inbox welcome failed", error);
      this.welcoming.delete(conn.id);
      return conn.close(1011, "welcome_failed");
    }
    const page = this.core.page(undefined, 50);
    const welcome = {
      type: "welcome",
      user: who,
      bootId: this.bootId,
      conversations: page.conversations,
      hasMore: page.hasMore,
      totalUnread: this.core.totalUnread(),
      changedWhileAway: [...away.keys()].map((key) => key.slice(AWAY_PREFIX.length)),
      contacts: this.core.contacts().map((user) => this.presenceOf(user)),
      serverTime: Date.now(),
    } satisfies InboxWelcome;
    send(conn, JSON.stringify(welcome));
    for (const frame of this.welcoming.get(conn.id) ?? []) send(conn, frame);
    this.welcoming.delete(conn.id);
    if (away.size > 0) await this.room.storage.delete([...away.keys()]);
    if (!wasOnline) this.announcePresence(true, null, at);
  }

  async onClose(conn: Conn) {
    this.router.forget(conn.id);
    this.welcoming.delete(conn.id);
    answerClose(conn);
    if (this.deviceCount(conn.id) > 0) return;
    const lastSeen = Date.now(); // stamped now: a device connecting during the write below announces later
    if (this.meta) await this.remember(this.meta.user, this.meta.origin, lastSeen);
    if (this.deviceCount(conn.id) > 0) return; // a device came back meanwhile: still online
    this.announcePresence(false, lastSeen, lastSeen);
  }

  onMessage(raw: string | ArrayBuffer | ArrayBufferView, conn: Conn) {
    if (raw === "ping") return send(conn, "pong");
    const state = conn.state;
    if (!state) return refuse(conn, "unauthorized", 4001);
    const decoded = decodeFrame(raw, InboxClientFrame);
    if (!decoded.ok) return send(conn, JSON.stringify(decoded.error));
    const frame = decoded.frame;
    if (frame.type === "dm") {
      if (frame.to === state.user.id) return send(conn, JSON.stringify(errorFrame("forbidden", { message: "A direct message needs another user.", ref: frame.clientId })));
      return this.router.route(dmRoomId(state.user.id, frame.to), this.device(conn, state), frame);
    }
    if (frame.type === "list") {
      const page = this.core.page(frame.before, frame.limit);
      return send(conn, JSON.stringify({ type: "list", requestId: frame.requestId, ...page, totalUnread: this.core.totalUnread() }));
    }
    if (frame.type === "read") return void this.markRead(conn, state, frame.room, frame.seq, frame.requestId ?? frame.room);
    return void this.sync(conn, state, frame.room, frame.after, frame.limit, frame.requestId);
  }

  private async markRead(conn: Conn, state: ConnState, room: string, seq: number, requestId: string): Promise<void> {
    try {
      const response = await this.callRoom(room, "/read", { method: "POST", body: JSON.stringify({ seq }) }, state.user);
      const body = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
      if (!response.ok) return sendRoomError(conn, body, requestId);
      const snapshot = { ...(body as Omit<Notification, "events">), events: [] };
      await this.applyNotifications([snapshot]);
      send(conn, JSON.stringify({ type: "read", requestId, room, readSeq: snapshot.readSeq }));
    } catch (error) {
      console.error("read failed", error);
      send(conn, JSON.stringify(errorFrame("room_unavailable", { ref: requestId })));
    }
  }

  private async sync(conn: Conn, state: ConnState, room: string, after: number, limit: number, requestId: string): Promise<void> {
    try {
      const response = await this.callRoom(room, `/history?after=${after}&limit=${limit}`, { method: "GET" }, state.user);
      const body = (await response.json().catch(() => undefined)) as { events?: RoomEvent[]; lastSeq?: number; hasMore?: boolean } | undefined;
      if (!response.ok || !body?.events) return sendRoomError(conn, body, requestId);
      send(conn, JSON.stringify({ type: "sync", requestId, room, events: body.events, lastSeq: body.lastSeq ?? 0, hasMore: body.hasMore ?? false }));
    } catch (error) {
      console.error("sync failed", error);
      send(conn, JSON.stringify(errorFrame("room_unavailable", { ref: requestId })));
    }
  }

  // ---- Actor routes.

  async onRequest(request: Party.Request): Promise<Response> {
    await drainBody(request as unknown as Request); // every answer below may come before the body is read
    const url = new URL(request.url);
    const action = url.pathname.split("/").pop();
    if (!isActorCall(request as unknown as Request)) {
      const who = identityFrom(request as unknown as Request);
      if (!who) return errorResponse("unauthorized");
      if (who.id !== this.room.id) return errorResponse("forbidden", "This is another user's inbox.");
      if (request.method === "GET" && action === "conversations") return json({ ...this.core.page(url.searchParams.get("before") ?? undefined, 50), totalUnread: this.core.totalUnread() });
      if (action === "notify" || action === "presence") return errorResponse("forbidden", "Only actors call this route.");
      return errorResponse("not_found", "No such route.");
    }
    await this.remember(this.room.id, url.origin, this.meta?.lastSeen ?? null, true);
    const body: unknown = await request.json().catch(() => undefined);
    if (request.method === "POST" && action === "notify") {
      const parsed = NotifyBody.safeParse(body);
      if (!parsed.success) return errorResponse("bad_frame", parsed.error.issues[0]?.message);
      await this.applyNotifications(parsed.data.notifications);
      return json({ ok: true });
    }
    if (request.method === "POST" && action === "presence") {
      const parsed = PresenceBody.safeParse(body);
      if (!parsed.success) return errorResponse("bad_frame", parsed.error.issues[0]?.message);
      await this.notePresence(parsed.data);
      return json({ ok: true });
    }
    return errorResponse("not_found", "No such route.");
  }

  /** Applies, stores (durably, before the room hears "ok"), then tells devices; offline users get queue + push. */
  private applyNotifications(notifications: Notification[]): Promise<void> {
    const run = this.tail.then(async () => {
      const online = this.deviceCount() > 0;
      const writes: Record<string, unknown> = {};
      const frames: string[] = [];
      const pushes: PushPayload[] = [];
      const newPeers: string[] = [];
      const settled: string[] = [];
      for (const n of notifications) {
        const applied = this.core.apply(n);
        if (!applied.changed) continue;
        writes[ENTRY_PREFIX + n.room] = applied.entry;
        settled.push(n.room);
        if (applied.created && applied.entry.peer) newPeers.push(applied.entry.peer);
        if (applied.fresh.length > 0) frames.push(JSON.stringify({ type: "events", room: n.room, events: applied.fresh }));
        frames.push(JSON.stringify({ type: "conversation", conversation: toConversation(applied.entry), totalUnread: this.core.totalUnread() }));
        const fromOthers = applied.fresh.filter((e) => e.kind === "message" && e.author.id !== this.room.id && e.deletedBy === undefined);
        if (!online && fromOthers.length > 0) {
          writes[AWAY_PREFIX + n.room] = Date.now(); // coalesced per conversation
          for (const e of fromOthers) {
            if (e.kind !== "message") continue;
            pushes.push({ user: this.room.id, room: n.room, seq: e.seq, ts: e.ts, from: e.author, preview: e.text.slice(0, LIMITS.previewChars) });
          }
        }
      }
      if (Object.keys(writes).length > 0) await this.room.storage.put(writes);
      this.settleOwed(settled);
      for (const frame of frames) this.toDevices(frame);
      await this.push.enqueue(pushes);
      // A new contact learns this user's status (and announces theirs when its own inbox creates the entry).
      for (const peer of newPeers) this.tellPresence(peer, online, online ? null : (this.meta?.lastSeen ?? null), Date.now());
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  /**
   * Settled in memory only: the stored `o:` key stays (a later DM overwrites it), and on start only rooms
   * whose owed seq is above the conversation's lastSeq are woken. Deleting it cost one more durable write
   * per DM, and every write is a sync in partykit dev.
   */
  private settleOwed(rooms: string[]): void {
    for (const room of rooms) if (this.owed.has(room) && (this.core.get(room)?.lastSeq ?? 0) >= this.owed.get(room)!) this.owed.delete(room);
  }

  // ---- Online status: socket open/close drive it; contacts (DM peers) hear of changes.

  private announcePresence(online: boolean, lastSeen: number | null, at: number): void {
    for (const peer of this.core.contacts()) this.tellPresence(peer, online, lastSeen, at);
  }

  /** Every device; those still being welcomed get it right after their welcome. */
  private toDevices(frame: string): void {
    for (const conn of this.room.getConnections()) {
      const waiting = this.welcoming.get(conn.id);
      if (waiting) waiting.push(frame);
      else send(conn, frame);
    }
  }

  private tellPresence(peer: string, online: boolean, lastSeen: number | null, at: number): void {
    const body = JSON.stringify({ user: this.room.id, online, lastSeen, at });
    void this.callInbox(peer, "/presence", body).catch((error) => console.error(`presence to ${peer} failed`, error));
  }

  private async notePresence(update: { user: string; online: boolean; lastSeen: number | null; at: number }): Promise<void> {
    const known = this.presence.get(update.user);
    if (known && known.at > update.at) return;
    this.presence.set(update.user, update);
    await this.room.storage.put(PRESENCE_PREFIX + update.user, update);
    const { at: _at, ...state } = update;
    const frame = JSON.stringify({ type: "presence", ...state });
    this.toDevices(frame);
  }

  private presenceOf(user: string): PresenceState {
    const known = this.presence.get(user);
    return known ? { user, online: known.online, lastSeen: known.lastSeen } : { user, online: false, lastSeen: null };
  }

  // ---- Helpers.

  private device(conn: Conn, state: ConnState): Device {
    return {
      id: conn.id,
      session: state.session,
      user: state.user,
      send: (frame) => send(conn, frame),
      resync: () => conn.close(4013, "resync_required"),
    };
  }

  private deviceCount(except?: string): number {
    let count = 0;
    for (const conn of this.room.getConnections()) if (conn.id !== except) count++;
    return count;
  }

  /** The origin alarms call back through: KAIWA_PUBLIC_ORIGIN when set (production), else the first seen. */
  private async remember(user: string, origin: string, lastSeen: number | null, onlyIfNew = false): Promise<void> {
    if (onlyIfNew && this.meta) return;
    const configured = this.room.env.KAIWA_PUBLIC_ORIGIN;
    const keep = typeof configured === "string" && configured ? configured : (this.meta?.origin ?? origin);
    this.meta = { user, origin: keep, lastSeen };
    await this.room.storage.put(META_KEY, this.meta);
  }

  private callRoom(room: string, path: string, init: RequestInit, who: Identity): Promise<Response> {
    const identity = JSON.stringify({ sub: who.id, name: who.name, ...(who.role ? { role: who.role } : {}) });
    return callActor(
      () => {
        const stub = this.room.context.parties.room!.get(room);
        return (p, i) => stub.fetch(p, i);
      },
      { origin: this.meta?.origin, party: "room", id: room, env: this.room.env },
      path,
      { ...init, headers: { "content-type": "application/json", [IDENTITY_HEADER]: identity } },
    );
  }

  private callInbox(user: string, path: string, body: string): Promise<Response> {
    return callActor(
      () => {
        const stub = this.room.context.parties.inbox!.get(user);
        return (p, i) => stub.fetch(p, i);
      },
      { origin: this.meta?.origin, party: "inbox", id: user, env: this.room.env },
      path,
      { method: "POST", body, headers: { "content-type": "application/json" } },
    ).then(async (response) => {
      await response.body?.cancel();
      return response;
    });
  }
}


const send = safeSend;

function refuse(conn: Party.Connection, code: "forbidden" | "unauthorized" | "bad_frame", closeCode: number): void {
  send(conn, JSON.stringify(errorFrame(code)));
  conn.close(closeCode, code);
}

function sendRoomError(conn: Party.Connection, body: unknown, requestId: string): void {
  const error = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
  const code: ErrorCode = error?.code && error.code in ERRORS ? (error.code as ErrorCode) : "room_unavailable";
  send(conn, JSON.stringify(errorFrame(code, { ...(error?.message ? { message: error.message } : {}), ref: requestId })));
}
