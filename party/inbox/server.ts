/**
 * The inbox actor: one per user, at /parties/inbox/<userId>. The PartyKit shell: lifecycle, socket
 * admission and frame dispatch. Each part owns its state and gets a narrow host from here:
 *
 * - devices.ts: the device sockets (sessions, welcome, fan-out) and when the user is online;
 * - dm-router.ts: DMs from devices to their rooms (queues: core/dm-queues.ts);
 * - requests.ts: a device's list, read and sync;
 * - conversations.ts: the conversation list fed by room notifications (around the pure core/inbox-core.ts),
 *   owed notifications, and the offline marks and push queue;
 * - presence.ts: contacts' online status and telling them this user's;
 * - routes.ts: the HTTP routes (who may call what: core/inbox-access.ts);
 * - calls.ts: calls to other actors and the inbox's own record (`meta`).
 *
 * Every storage key the inbox uses is in keys.ts.
 */
import { CLOSE } from "../protocol/codes.ts";
import type * as Party from "partykit/server";
import { nanoid } from "nanoid";
import { ConnectQuery, InboxClientFrame, LIMITS, dmRoomId } from "../protocol/index.ts";
import { identityFrom } from "../adapters/auth.ts";
import { errorFrame } from "../protocol/error-frame.ts";
import { gateRequest, gateSocket } from "../adapters/service-auth.ts";
import { decodeFrame } from "../protocol/decode.ts";
import { safeSend } from "../adapters/sockets.ts";
import { IdleSockets } from "../adapters/idle-sockets.ts";
import { loadConfig } from "../config.ts";
import { dmRefusal, isOwner, socketRefusal } from "../core/inbox-access.ts";
import { DmRouter } from "./dm-router.ts";
import { ActorCalls } from "./calls.ts";
import { Conversations } from "./conversations.ts";
import { InboxDevices } from "./devices.ts";
import { InboxPresence } from "./presence.ts";
import { DeviceRequests } from "./requests.ts";
import { InboxRoutes } from "./routes.ts";
import { InboxFlow } from "./flow.ts";
import type { Conn, ConnState } from "./types.ts";

export default class InboxServer implements Party.Server {
  readonly options: Party.ServerOptions;
  private readonly bootId = nanoid(10);
  private readonly calls: ActorCalls;
  private readonly conversations: Conversations;
  private readonly presence: InboxPresence;
  private readonly devices: InboxDevices;
  private readonly router: DmRouter;
  private readonly requests: DeviceRequests;
  private readonly routes: InboxRoutes;
  private readonly flow: InboxFlow;
  /** PROTOCOL R80: devices that stopped reading are closed (adapters/idle-sockets.ts). */
  private readonly idle: IdleSockets<Conn>;

  constructor(readonly room: Party.Room) {
    const config = loadConfig(room.env); // party/config.ts: an invalid configuration throws here, naming the variable
    this.options = { hibernate: config.hibernate };
    this.flow = new InboxFlow(Date.now, { perSecond: config.room.messagesPerSecond, burst: config.room.messageBurst });
    const storage = room.storage;
    const list = () => this.conversations.list;
    this.idle = new IdleSockets<Conn>(
      {
        connections: () => room.getConnections<ConnState>(),
        connection: (id) => room.getConnection<ConnState>(id),
        watched: (conn) => conn.state != null,
        drop: (conn) => this.dropNotReading(conn),
      },
      config.test,
    );
    this.calls = new ActorCalls({
      storage,
      env: room.env,
      publicOrigin: config.publicOrigin,
      parties: () => room.context.parties,
    });
    const { callRoom, callInbox } = this.calls;
    this.devices = new InboxDevices({
      bootId: this.bootId,
      connections: () => room.getConnections<ConnState>(),
      conversations: list,
      awayRooms: () => this.conversations.awayRooms(),
      clearAway: (rooms) => this.conversations.clearAway(rooms),
      presenceOf: (user) => this.presence.of(user),
      meta: () => this.calls.current,
      remember: (user, origin, lastSeen) => this.calls.remember(user, origin, lastSeen),
      announce: (online, lastSeen, at) => this.presence.announce(online, lastSeen, at),
    });
    const toDevices = (frame: string) => {
      this.devices.toAll(frame);
      this.idle.broadcast(frame); // may close devices that stopped reading (PROTOCOL R80)
    };
    this.presence = new InboxPresence({ userId: room.id, storage, contacts: () => list().contacts(), toDevices, callInbox });
    this.conversations = new Conversations({
      userId: room.id,
      storage,
      pushConfig: config.push,
      armAlarm: (at) => void storage.setAlarm(at).catch((e) => console.error("push alarm", e)),
      owner: () => this.calls.current?.user,
      deviceCount: () => this.devices.count(),
      toDevices,
      // A new contact learns this user's status (and announces theirs when its own inbox creates the entry).
      greet: (peer, online) => this.presence.tell(peer, online, online ? null : (this.calls.current?.lastSeen ?? null), Date.now()),
      callRoom,
    });
    const applyNotifications = (notifications: Parameters<Conversations["apply"]>[0]) => this.conversations.apply(notifications);
    this.router = new DmRouter(
      (dmRoom, body, who) => callRoom(dmRoom, "/commands", { method: "POST", body }, who),
      (dmRoom, seq) => this.conversations.owe(dmRoom, seq),
    );
    this.requests = new DeviceRequests({ conversations: list, applyNotifications, callRoom });
    this.routes = new InboxRoutes({
      inboxId: room.id,
      conversations: list,
      noteActorOrigin: (origin) => this.calls.remember(room.id, origin, this.calls.current?.lastSeen ?? null, true),
      applyNotifications,
      notePresence: (update) => this.presence.note(update),
    });
  }

  // ---- Worker side (PROTOCOL I7): only the user opens their own inbox; actor routes need a service token.

  static onBeforeConnect(request: Party.Request, lobby: Party.Lobby) {
    return gateSocket(request as unknown as Request, lobby, (who) => socketRefusal(who, lobby.id));
  }

  static onBeforeRequest(request: Party.Request, lobby: Party.Lobby) {
    return gateRequest(request as unknown as Request, lobby);
  }

  async onStart() {
    await Promise.all([this.conversations.load(), this.presence.load(), this.calls.load()]);
    this.conversations.start();
    this.idle.reindex(); // after a wake from hibernation: every open device counts as heard now
  }

  async onAlarm() {
    await this.conversations.runPush();
  }

  // ---- Devices.

  async onConnect(conn: Conn, ctx: Party.ConnectionContext) {
    const who = identityFrom(ctx.request as unknown as Request);
    if (!isOwner(who, this.room.id)) return refuse(conn, "forbidden", CLOSE.forbidden);
    const url = new URL(ctx.request.url);
    const query = ConnectQuery.safeParse(Object.fromEntries(url.searchParams));
    if (!query.success) return refuse(conn, "bad_frame", CLOSE.protocolViolation);
    // At most maxSocketsPerUser devices (PROTOCOL §7); a socket replacing its session's does not add one.
    if (this.devices.others(conn.id, query.data.session) >= LIMITS.maxSocketsPerUser) {
      this.flow.refusedSocket();
      const message = `At most ${LIMITS.maxSocketsPerUser} devices may be connected at once; close one or try again later.`;
      send(conn, JSON.stringify(errorFrame("rate_limited", { message, retryAfterMs: LIMITS.socketsRetryAfterMs })));
      return conn.close(CLOSE.rateLimited, "rate_limited");
    }
    await this.devices.open(conn, who, query.data.session, url.origin);
    this.idle.heard(conn);
  }

  async onClose(conn: Conn) {
    this.idle.forget(conn.id);
    this.router.forget(conn.id);
    this.flow.forget(conn.id);
    await this.devices.close(conn);
  }

  /** A socket that ends in an error may get no close event (a frame over the runtime's limit): its bounded state goes. */
  onError(conn: Conn) {
    this.idle.forget(conn.id);
    this.router.forget(conn.id);
    this.flow.forget(conn.id);
  }

  onMessage(raw: string | ArrayBuffer | ArrayBufferView, conn: Conn) {
    this.idle.heard(conn); // any frame, `ping` included (PROTOCOL R80)
    if (raw === "ping") return send(conn, "pong");
    if (this.flow.isCut(conn.id)) return; // cut off by a bound: the client resends in order (PROTOCOL I4)
    const state = conn.state;
    if (!state) return refuse(conn, "unauthorized", CLOSE.unauthorized);
    const wait = this.flow.frame(conn.id);
    if (wait > 0) return this.throttle(conn, wait, undefined);
    const decoded = decodeFrame(raw, InboxClientFrame);
    if (!decoded.ok) return send(conn, JSON.stringify(decoded.error));
    const frame = decoded.frame;
    if (frame.type === "list") return this.requests.list(conn, frame);
    // DMs, reads and syncs wait for a room: at most maxPendingPerSocket per socket (PROTOCOL §7).
    const ref = frame.type === "dm" ? frame.clientId : (frame.requestId ?? (frame.type === "read" ? frame.room : undefined));
    if (!this.flow.begin(conn.id)) return this.throttle(conn, PENDING_RETRY_MS, ref);
    const settled = () => this.flow.end(conn.id);
    if (frame.type === "dm") {
      const wait = this.flow.message(frame.clientId, state.user.role === "operator");
      if (wait > 0) {
        settled();
        return this.throttle(conn, wait, frame.clientId);
      }
      const refusal = dmRefusal(state.user.id, frame.to);
      if (refusal) {
        settled();
        return send(conn, JSON.stringify(errorFrame("forbidden", { message: refusal, ref: frame.clientId })));
      }
      return this.router.route(dmRoomId(state.user.id, frame.to), this.devices.device(conn, state, settled), frame);
    }
    if (frame.type === "read") return void this.requests.read(conn, state.user, frame).finally(settled);
    return void this.requests.sync(conn, state.user, frame).finally(settled);
  }

  /**
   * Over a bound (PROTOCOL §7; a room does the same, PROTOCOL R18): `rate_limited` naming the first request not taken, then the
   * socket closes (4029); its queued DMs and later frames are dropped, so the client resends them in order.
   */
  private throttle(conn: Conn, waitMs: number, ref: string | undefined): void {
    const retryAfterMs = Number.isFinite(waitMs) ? Math.min(waitMs, MAX_RETRY_AFTER_MS) : MAX_RETRY_AFTER_MS;
    send(conn, JSON.stringify(errorFrame("rate_limited", { retryAfterMs, ...(ref ? { ref } : {}) })));
    this.flow.cutOff(conn.id);
    this.router.drop(conn.id);
    try {
      conn.close(CLOSE.rateLimited, "rate_limited");
    } catch {
      // closed meanwhile
    }
  }

  /**
   * PROTOCOL R80: a device that stopped reading is closed (4014) and released at once, as a close would: its
   * peer does not read, so the close may never be answered and no close event may come.
   */
  private dropNotReading(conn: Conn): void {
    try {
      conn.close(CLOSE.notReading, "not_reading");
    } catch {
      // closed meanwhile
    }
    this.router.forget(conn.id);
    this.flow.forget(conn.id);
    void this.devices.close(conn).catch((error) => console.error("releasing a device that stopped reading failed", error));
  }

  // ---- Actor routes.

  onRequest(request: Party.Request): Promise<Response> {
    return this.routes.handle(request);
  }
}

const send = safeSend;
/** A socket over the pending bound comes back after about one room write; the longest wait named. */
const PENDING_RETRY_MS = 250;
const MAX_RETRY_AFTER_MS = 60_000;

function refuse(conn: Party.Connection, code: "forbidden" | "unauthorized" | "bad_frame", closeCode: number): void {
  send(conn, JSON.stringify(errorFrame(code)));
  conn.close(closeCode, code);
}
