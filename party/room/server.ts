/**
 * The room actor's shell (PartyKit `room` party): one conversation, the single writer of its order. It
 * wires the parts, each owning its own state behind a narrow host interface, and routes PartyKit's calls
 * to them:
 * - room/admission.ts: who may open a socket, the welcome, the resume replay and catch-up buffers (PROTOCOL R6, R7);
 * - room/inbound.ts: each socket frame through the flow checks (PROTOCOL R18, R19) and decoding to its part;
 * - room/commands.ts: deciding commands in arrival order through the pure core (PROTOCOL I1, I3, I4);
 * - room/writer.ts: the group commit, releasing durable batches, repair after failures (PROTOCOL I2, R2, R3, R3a);
 * - room/members.ts: reads, receipts, presence, typing, membership cut-offs (PROTOCOL I6, R14, R15);
 * - room/http-routes.ts and room/admin.ts: the HTTP routes and operator tools;
 * - room/inbox-link.ts and archive/outbox.ts: notifying members' inboxes and draining to Postgres (PROTOCOL I9);
 * - room/uploads.ts and room/media-janitor.ts: files in messages and their removal (PROTOCOL R30-R33).
 */
import type * as Party from "partykit/server";
import { nanoid } from "nanoid";
import { roomKind, CLOSE, LIMITS, type ErrorFrame, type Identity, type Pin, type RoomSettings, type RoomSettingsPatch } from "../protocol/index.ts";
import { RoomCore } from "../core/room-core.ts";
import { META_KEY, MEMBERS_KEY, MODERATION_PREFIX, PINS_KEY, SETTINGS_KEY, WHERE_KEY, type RoomMeta } from "../core/room-keys.ts";
import { Membership, type MembershipState } from "../core/membership.ts";
import { Moderation, type Restriction } from "../core/moderation.ts";
import { Pins } from "../core/pins.ts";
import { Histogram } from "../core/histogram.ts";
import { TaskQueue } from "../core/task-queue.ts";
import { loadSettings, patchSettings } from "../core/settings.ts";
import { safeSend, answerClose } from "../adapters/sockets.ts";
import { directoryReporter } from "../adapters/directory-reporter.ts";
import { AlarmClock } from "../adapters/alarm-clock.ts";
import { RoomArchive } from "../archive/outbox.ts";
import { archiveSettings } from "../archive/config.ts";
import { loadConfig, type KaiwaConfig } from "../config.ts";
import { canonicalRoomId } from "../archive/room-id.ts";
import { gateRequest, gateSocket } from "../worker/service-auth.ts";
import { isLogRead } from "../worker/anonymous-read.ts";
import { RoomInboxLink } from "./inbox-link.ts";
import { RoomMembers } from "./members.ts";
import { RoomAwareness } from "./awareness.ts";
import { RoomAdmin, type AdminAction, type AdminResult } from "./admin.ts";
import { RoomWriter } from "./writer.ts";
import { RoomCommands } from "./commands.ts";
import { RoomFlow } from "./flow.ts";
import { TokenExpiry } from "./token-expiry.ts";
import { RoomAdmission } from "./admission.ts";
import { RoomHttp } from "./http-routes.ts";
import { RoomHistory } from "./history.ts";
import { RoomInbound } from "./inbound.ts";
import { RoomLogReader } from "./log-reader.ts";
import { RoomRelays } from "./relays.ts";
import { SocketReply } from "./socket-reply.ts";
import { roomStats } from "./stats.ts";
import { RoomUploads } from "./uploads.ts";
import { MediaJanitor } from "./media-janitor.ts";
import { IdleSockets } from "../adapters/idle-sockets.ts";
import type { CommandCounters, Conn, ConnState, Reply } from "./types.ts";

export default class RoomServer implements Party.Server {
  /**
   * Hibernation is opt-in (`KAIWA_HIBERNATE=1`). It would let idle rooms leave memory with sockets open,
   * but in partykit 0.0.115's runtime a server-initiated close of a hibernatable socket takes ~10 s to
   * reach the client (every refusal, resync and session replacement would stall), and per-frame dispatch
   * costs ~25% of a hot room's msgs/s (both measured here). The code is hibernation-safe either way:
   * per-connection facts live in connection state, and nothing keeps an interval running.
   */
  readonly options: Party.ServerOptions;
  readonly bootId = nanoid(10);
  readonly config: KaiwaConfig;
  readonly counters: CommandCounters = { accepted: 0, duplicates: 0, rejected: {}, storageFailures: 0, releaseFailures: 0 };
  private core!: RoomCore;
  /** What operators set, stored as such (defaults stay the code's): see core/settings.ts. */
  private settingsOverrides: RoomSettingsPatch = {};
  /** The decoded room id; known from onStart on (`room.id` throws inside alarms, see resolveRoomId). */
  private canonicalId = "";
  private readonly tasks = new TaskQueue((error) => console.error("room task failed", error));
  /** Loads the inbox link once the room's id and origin are known (never in alarms: see inbox-link.ts). */
  private linkLoading: Promise<void> = Promise.resolve();
  /** The room's one storage alarm, shared by the archive drain and the inbox link. */
  private readonly alarms: AlarmClock;
  readonly archive: RoomArchive;
  readonly link: RoomInboxLink;
  readonly members: RoomMembers;
  readonly awareness: RoomAwareness;
  readonly writer: RoomWriter;
  readonly commands: RoomCommands;
  readonly flow: RoomFlow;
  readonly expiry: TokenExpiry;
  private readonly admission: RoomAdmission;
  private readonly http: RoomHttp;
  private readonly history: RoomHistory;
  private readonly inbound: RoomInbound;
  readonly log: RoomLogReader;
  readonly relays: RoomRelays;
  readonly ackLatency = new Histogram();
  readonly admin: RoomAdmin;
  readonly uploads: RoomUploads;
  readonly janitor: MediaJanitor;
  readonly reporter: ReturnType<typeof directoryReporter>;
  /** PROTOCOL R80: sockets that stopped reading are closed (adapters/idle-sockets.ts); the room's relays are not watched. */
  readonly idle: IdleSockets<Conn>;

  constructor(readonly room: Party.Room) {
    this.config = loadConfig(room.env); // throws naming the variable: the worker's gate already refused the request
    this.options = { hibernate: this.config.hibernate };
    this.alarms = new AlarmClock(room.storage);
    this.link = new RoomInboxLink(room, () => this.core, this.config, this.alarms);
    this.archive = new RoomArchive(room.storage, archiveSettings(this.config), () => this.core, this.alarms);
    this.reporter = directoryReporter(room, () => this.admin.report(), this.config.directory);
    // The archive's lag is in every report: a drain that moved the cursor is a change worth reporting.
    this.archive.onProgress = () => this.reporter.touch();
    this.uploads = new RoomUploads({ room, config: this.config, core: () => this.core, scheduled: (at) => this.janitor.schedule(at) });
    this.janitor = new MediaJanitor(room.storage, this.uploads, this.alarms);
    this.idle = new IdleSockets<Conn>(
      {
        connections: () => room.getConnections<ConnState>(),
        connection: (id) => room.getConnection<ConnState>(id),
        watched: (conn) => conn.state != null && conn.state.relay === undefined,
        drop: (conn) => this.dropNotReading(conn),
      },
      this.config.test,
    );
    const shared = {
      room,
      core: () => this.core,
      roomId: () => this.canonicalId,
      enqueue: (task: () => Promise<void>) => this.tasks.enqueue(task),
      linkReady: () => this.linkLoading,
      ensureLink: (request: Request) => this.ensureLink(request),
      reply: (reply: Reply, frame: ErrorFrame) => this.reply(reply, frame),
      refuse: (conn: Conn, frame: ErrorFrame, closeCode: number) => this.refuse(conn, frame, closeCode),
      closeSocket: (conn: Conn, code: number, reason: string) => this.closeSocket(conn, code, reason),
      touched: () => this.touched(),
    };
    this.members = new RoomMembers({
      ...shared,
      link: this.link,
      isBroken: () => this.writer.broken,
      queue: (item, writes) => this.writer.add(item, writes),
      broadcast: (frame) => this.broadcast(frame),
    });
    this.awareness = new RoomAwareness({ ...shared, typingRefusal: (who) => this.members.typingRefusal(who), joining: (id) => this.admission.joining(id) });
    // DMs show "delivered": the peer's inbox confirmed it has the message.
    this.link.onConfirmed = (user, seq) => {
      if (!this.core.membership) this.members.signals.deliveredTo(user, seq);
    };
    this.log = new RoomLogReader({ ...shared, archive: this.archive });
    this.writer = new RoomWriter({
      ...shared,
      log: this.log,
      config: this.config,
      link: this.link,
      members: this.members,
      archive: this.archive,
      ackLatency: this.ackLatency,
      counters: this.counters,
      broadcast: (frame, skip) => this.broadcast(frame, skip),
      reload: () => this.reloadState(),
      filesFreed: () => this.janitor.schedule(Date.now()),
    });
    this.flow = new RoomFlow(this.config, () => this.core);
    this.expiry = new TokenExpiry({ room, cutOff: (conn, code, reason) => this.writer.cutOff(conn, code, reason), wakeAt: (at) => void this.alarms.want("expiry", at).catch((error) => console.error("arming the expiry alarm failed", error)) });
    this.commands = new RoomCommands({ ...shared, writer: this.writer, flow: this.flow, uploads: this.uploads, counters: this.counters, queued: () => this.tasks.queued });
    this.admin = new RoomAdmin(this);
    this.relays = new RoomRelays(shared);
    this.admission = new RoomAdmission({ ...shared, joined: (conn) => this.awareness.welcomed(conn), relays: this.relays, config: this.config, bootId: this.bootId, members: this.members, admin: this.admin, archive: this.archive, link: this.link, commands: this.commands, expiry: this.expiry });
    this.history = new RoomHistory({ ...shared, archive: this.archive });
    this.inbound = new RoomInbound({ ...shared, writer: this.writer, flow: this.flow, expiry: this.expiry, commands: this.commands, history: this.history, members: this.members, awareness: this.awareness });
    this.http = new RoomHttp({
      ...shared,
      history: this.history,
      admin: this.admin,
      archive: this.archive,
      link: this.link,
      members: this.members,
      commands: this.commands,
      log: this.log,
      flow: this.flow,
      uploads: this.uploads,
      stats: () => this.stats(),
      updateSettings: (patch) => this.updateSettings(patch),
    });
  }

  // ---- Worker side: verify the token before the room is touched (PROTOCOL I7).

  static onBeforeConnect(request: Party.Request, lobby: Party.Lobby) {
    return gateSocket(request as unknown as Request, lobby);
  }

  static onBeforeRequest(request: Party.Request, lobby: Party.Lobby) {
    // Reads of the log may come without a token: the room decides by its `public` setting (PROTOCOL R40).
    return gateRequest(request as unknown as Request, lobby, isLogRead);
  }

  // ---- Lifecycle.

  async onStart() {
    this.canonicalId = (await this.resolveRoomId()) ?? "";
    this.core = await this.loadCore();
    await Promise.all([this.archive.load(), this.alarms.load(), this.uploads.load()]);
    await this.janitor.load(); // after the alarm clock: removals owed before a restart are scheduled again (PROTOCOL R33)
    this.members.reindex();
    this.expiry.reindex();
    this.relays.reindex();
    this.idle.reindex();
    // A room that stopped with its archive behind (a crash right after an ack) drains now, not at its next
    // message (PROTOCOL I9): nothing else would wake it in a runtime that lost its alarm.
    if (this.archive.behind(this.core.committedSeq)) this.archive.armDrain(this.canonicalId);
  }

  /**
   * The one alarm wakes its users: the archive drain (PROTOCOL I9), inbox notification retries (PROTOCOL IB3)
   * and expired tokens (PROTOCOL R19).
   * Returns at once: while an alarm handler runs, partykit makes `room.id` and `context.parties` throw for
   * every handler of the room, so the work runs in the background (see RoomArchive.wake).
   */
  onAlarm() {
    this.alarms.fired();
    this.archive.wake();
    this.link.wake();
    this.janitor.wake();
    setTimeout(() => this.expiry.fire(), 0); // after the handler: sockets are safe to touch again
  }

  // ---- Sockets.

  onConnect(conn: Conn, ctx: Party.ConnectionContext) {
    this.admission.connect(conn, ctx.request as unknown as Request);
    this.idle.heard(conn); // admitted sockets have their state by now; refused ones none
  }

  /** A socket that ends in an error may get no close event: it leaves presence here. */
  onError(conn: Conn) {
    this.idle.forget(conn.id);
    this.admission.forget(conn.id);
    this.relays.closed(conn.id);
    this.members.detach(conn);
    this.awareness.closed(conn.id);
    // It may get no close event: what a close would have released goes now (PROTOCOL §7).
    this.writer.socketClosed(conn.id);
    this.touched();
  }

  onClose(conn: Conn) {
    this.idle.forget(conn.id);
    this.admission.forget(conn.id);
    this.relays.closed(conn.id);
    this.members.closed(conn);
    this.awareness.closed(conn.id);
    this.writer.socketClosed(conn.id);
    this.touched();
    answerClose(conn);
  }

  /** Sockets or commits changed: the directory hears of it, and sessions past the bound may go. */
  private touched(): void {
    this.reporter.touch();
    this.pruneSessions();
  }

  /**
   * PROTOCOL §7.2: past `maxSessionsInMemory`, sessions no open socket holds leave memory. Only when nothing
   * decided is unwritten (the writer idle and not broken) and no task is queued (none sits between loading
   * a session and deciding on it); otherwise the next commit or close tries again. Without it one user
   * reconnecting with fresh session ids would grow the map for as long as the room runs.
   */
  private pruneSessions(): void {
    const max = this.config.test.maxSessionsInMemory || LIMITS.maxSessionsInMemory;
    const count = this.core.sessionCount;
    // Also past twice the open sockets, so a room with more open sessions than the bound (a big live
    // audience) does not scan them all at every commit: each scan drops at least half of what it reads.
    if (count <= max || count <= 2 * this.members.openSockets) return;
    if (this.writer.busy || this.writer.broken || this.tasks.queued > 0) return;
    this.core.pruneSessions((key) => this.members.holdsSession(key));
  }

  onMessage(raw: string | ArrayBuffer | ArrayBufferView, conn: Conn) {
    const state = conn.state;
    if (state?.relay !== undefined) return this.relays.frame(conn, raw, new SocketReply(conn, this.writer));
    if (state) this.idle.heardWatched(conn.id); // any frame, `ping` included (PROTOCOL R80)
    this.inbound.frame(raw, conn);
  }

  // ---- HTTP.

  onRequest(request: Party.Request): Promise<Response> {
    return this.http.handle(request);
  }

  /** The operator stats route's body (PROTOCOL §6); the bench's stall report reads it too. */
  stats() {
    return roomStats({ room: this.room, bootId: this.bootId, core: this.core, counters: this.counters, link: this.link, writer: this.writer, archive: this.archive, uploads: this.uploads, janitor: this.janitor, tasksQueued: this.tasks.queued, log: this.log, relays: this.relays, awareness: this.awareness.states, notReadingClosed: this.idle.closed });
  }

  // ---- For room/admin.ts (AdminHost).

  archiveLag(): number {
    return this.archive.lag(this.core.committedSeq);
  }

  runAdmin(who: Identity, action: AdminAction, clientId: string): Promise<AdminResult> {
    return this.commands.runAdmin(who, action, clientId);
  }

  /** The room's live state, read-only. */
  get state() {
    return { core: this.core, bootId: this.bootId, accepted: this.counters.accepted, rejected: this.counters.rejected };
  }

  /** One live frame to every socket (room/admission.ts), counted for the idle sweep, which may close some (PROTOCOL R80). */
  private broadcast(frame: string, skip?: Set<string>): void {
    this.admission.broadcast(frame, skip);
    this.idle.broadcast(frame);
  }

  /**
   * PROTOCOL R80: a socket that stopped reading is closed (4014) and released at once, as onError would: its
   * peer does not read, so the close may never be answered and no close event may come.
   */
  private dropNotReading(conn: Conn): void {
    this.closeSocket(conn, CLOSE.notReading, "not_reading");
    this.admission.forget(conn.id);
    this.relays.closed(conn.id);
    this.writer.socketClosed(conn.id);
    this.touched();
  }

  /** Every close the room starts: the socket leaves presence now, not when (or if) its peer answers. */
  closeSocket(conn: Conn, code: number, reason: string): void {
    this.members.detach(conn);
    this.awareness.closed(conn.id); // its states go now, not when (or if) its peer answers the close
    try {
      conn.close(code, reason);
    } catch {
      // already closed
    }
  }

  // ---- Internals.

  private async loadCore(): Promise<RoomCore> {
    const stored = await this.room.storage.get<unknown>([META_KEY, SETTINGS_KEY]);
    let meta = stored.get(META_KEY) as RoomMeta | undefined;
    if (!meta) {
      // The epoch names this stream; a room whose storage is lost starts a new one (PROTOCOL I5).
      meta = { epoch: nanoid(12), lastSeq: 0, createdAt: Date.now() };
      await this.room.storage.put(META_KEY, meta);
    }
    // A stored setting the current code no longer accepts is repaired, never a reason not to start.
    const { settings, overrides, repairs } = loadSettings(stored.get(SETTINGS_KEY));
    if (repairs.length > 0) console.warn(`room ${this.canonicalId}: stored settings repaired: ${repairs.join("; ")}`);
    this.settingsOverrides = overrides;
    const moderation = new Moderation(await this.room.storage.list<Restriction>({ prefix: MODERATION_PREFIX }));
    // Groups (`g:<id>`) carry members and roles; every command there needs membership.
    const membership = roomKind(this.canonicalId) === "group" ? new Membership(await this.room.storage.get<MembershipState>(MEMBERS_KEY), LIMITS.maxGroupMembers) : undefined;
    const pins = new Pins(await this.room.storage.get<Pin[]>(PINS_KEY));
    // DMs: the two participants from the room's name (who may be mentioned, who may pin; PROTOCOL R24, R26).
    const participants = roomKind(this.canonicalId) === "dm" ? this.canonicalId.split(":").slice(1) : undefined;
    const botsOnly = roomKind(this.canonicalId) === "notices"; // PROTOCOL R63
    return new RoomCore({ meta, settings, moderation, pins, clock: Date.now, dedupeWindow: LIMITS.dedupeWindow, recentWindow: LIMITS.recentWindow, ...(membership ? { membership } : {}), ...(participants ? { participants } : {}), ...(botsOnly ? { botsOnly } : {}) });
  }

  /** `room.id` throws inside onAlarm (partykit 0.0.115): fall back to the id stored at the first request. */
  private async resolveRoomId(): Promise<string | undefined> {
    try {
      return canonicalRoomId(this.room.id);
    } catch {
      return (await this.room.storage.get<{ roomId: string }>(WHERE_KEY))?.roomId;
    }
  }

  private async updateSettings(patch: RoomSettingsPatch): Promise<RoomSettings> {
    const next = patchSettings(this.settingsOverrides, patch);
    await this.room.storage.put(SETTINGS_KEY, next.overrides);
    this.settingsOverrides = next.overrides;
    const shardsBefore = this.relays.shards();
    this.core.settings = next.settings;
    this.relays.settingsChanged(shardsBefore); // a new shard count moves viewers (PROTOCOL R53)
    return next.settings;
  }

  /**
   * Rebuilds the room's state from storage, in task order, once no write is collecting or in flight;
   * commands that reach a decision meanwhile get `storage_failed` (PROTOCOL R3).
   */
  private reloadState(): void {
    this.tasks.enqueue(async () => {
      await this.writer.idle();
      this.core = await this.loadCore();
      await this.uploads.load(); // slots taken by the failed batch are free again: only what is durable counts
      await this.link.reset().catch((error) => console.error("reloading the inbox link failed", error)); // rebuilt from what was stored
      this.writer.repaired();
    });
  }

  private ensureLink(request: Request): void {
    const origin = new URL(request.url).origin;
    this.linkLoading = this.link.ensure(this.room.id, origin).catch((error) => console.error("loading the inbox link failed", error));
  }

  /** A typed error to one command's reply, counted by code in stats. */
  private reply(reply: Reply, frame: ErrorFrame): void {
    this.counters.rejected[frame.code] = (this.counters.rejected[frame.code] ?? 0) + 1;
    this.reporter.touch();
    reply.error(frame);
  }

  private refuse(conn: Conn, frame: ErrorFrame, closeCode: number): void {
    safeSend(conn, JSON.stringify(frame));
    this.closeSocket(conn, closeCode, frame.code);
  }
}

export type RoomStats = ReturnType<RoomServer["stats"]>;

