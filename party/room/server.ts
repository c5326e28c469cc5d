/**
 * The room actor's shell (PartyKit `room` party): one conversation, the single writer of its order. It
 * owns what the parts share (the task queue, the socket glue, the counters) and routes PartyKit's calls to
 * the parts, each owning its own state behind a narrow host interface (built in room/wiring.ts):
 * - room/room-state.ts: the core, the settings operators set, the room id; loaded at start and after a failure;
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
import { CLOSE, LIMITS, type ErrorFrame, type RoomSettings, type RoomSettingsPatch } from "../protocol/index.ts";
import { Histogram } from "../core/histogram.ts";
import { TaskQueue } from "../core/task-queue.ts";
import { safeSend, answerClose } from "../adapters/sockets.ts";
import { loadConfig, type KaiwaConfig } from "../config.ts";
import { gateRequest, gateSocket } from "../adapters/service-auth.ts";
import { isLogRead } from "../adapters/anonymous-read.ts";
import { RoomState } from "./room-state.ts";
import { wireRoom, type RoomParts } from "./wiring.ts";
import type { RoomWriter } from "./writer.ts";
import { SocketReply } from "./socket-reply.ts";
import { roomStats } from "./stats.ts";
import type { CommandCounters, Conn, Reply } from "./types.ts";

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
  readonly ackLatency = new Histogram();
  /** The core, the settings operators set and the decoded room id (room/room-state.ts). */
  private readonly state: RoomState;
  private readonly tasks = new TaskQueue((error) => console.error("room task failed", error));
  /** Loads the inbox link once the room's id and origin are known (never in alarms: see inbox-link.ts). */
  private linkLoading: Promise<void> = Promise.resolve();
  /** Every part, wired to the others (room/wiring.ts). */
  private readonly parts: RoomParts;
  /** The commit pipeline: what is decided waits here until it is durable (PROTOCOL I2). */
  private readonly writer: RoomWriter;

  constructor(readonly room: Party.Room) {
    this.config = loadConfig(room.env); // throws naming the variable: the worker's gate already refused the request
    this.options = { hibernate: this.config.hibernate };
    this.state = new RoomState(room);
    const { config, state, bootId, counters, ackLatency } = this;
    this.parts = wireRoom({ room, config, state, bootId, counters, ackLatency }, {
      enqueue: (task) => this.tasks.enqueue(task),
      queued: () => this.tasks.queued,
      linkReady: () => this.linkLoading,
      ensureLink: (request) => this.ensureLink(request),
      reply: (reply, frame) => this.reply(reply, frame),
      refuse: (conn, frame, closeCode) => this.refuse(conn, frame, closeCode),
      closeSocket: (conn, code, reason) => this.closeSocket(conn, code, reason),
      touched: () => this.touched(),
      broadcast: (frame, skip) => this.broadcast(frame, skip),
      dropNotReading: (conn) => this.dropNotReading(conn),
      reload: () => this.reloadState(),
      stats: () => this.stats(),
      updateSettings: (patch) => this.updateSettings(patch),
    });
    this.writer = this.parts.writer;
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
    const { archive, alarms, uploads, janitor } = this.parts;
    await this.state.start();
    await Promise.all([archive.load(), alarms.load(), uploads.load()]);
    await janitor.load(); // after the alarm clock: removals owed before a restart are scheduled again (PROTOCOL R33)
    this.parts.members.reindex();
    this.parts.expiry.reindex();
    this.parts.relays.reindex();
    this.parts.idle.reindex();
    // A room that stopped with its archive behind (a crash right after an ack) drains now, not at its next
    // message (PROTOCOL I9): nothing else would wake it in a runtime that lost its alarm.
    if (archive.behind(this.state.core.committedSeq)) archive.armDrain(this.state.id);
  }

  /**
   * The one alarm wakes its users: the archive drain (PROTOCOL I9), inbox notification retries (PROTOCOL IB3)
   * and expired tokens (PROTOCOL R19).
   * Returns at once: while an alarm handler runs, partykit makes `room.id` and `context.parties` throw for
   * every handler of the room, so the work runs in the background (see RoomArchive.wake).
   */
  onAlarm() {
    const { alarms, archive, link, janitor, expiry } = this.parts;
    alarms.fired();
    archive.wake();
    link.wake();
    janitor.wake();
    setTimeout(() => expiry.fire(), 0); // after the handler: sockets are safe to touch again
  }

  // ---- Sockets.

  onConnect(conn: Conn, ctx: Party.ConnectionContext) {
    this.parts.admission.connect(conn, ctx.request as unknown as Request);
    this.parts.idle.heard(conn); // admitted sockets have their state by now; refused ones none
  }

  /** A socket that ends in an error may get no close event: it leaves presence here. */
  onError(conn: Conn) {
    this.parts.members.detach(conn);
    this.parts.awareness.closed(conn.id);
    // It may get no close event: what a close would have released goes now (PROTOCOL §7).
    this.released(conn);
  }

  onClose(conn: Conn) {
    this.parts.members.closed(conn);
    this.parts.awareness.closed(conn.id);
    this.released(conn);
    answerClose(conn);
  }

  /**
   * A socket is gone (closed, failed, or dropped as not reading): the bookkeeping keyed by its id goes (idle
   * sweep, catch-up buffer, relay counts) and what it held in the writer is released.
   */
  private released(conn: Conn): void {
    this.parts.idle.forget(conn.id);
    this.parts.admission.forget(conn.id);
    this.parts.relays.closed(conn.id);
    this.writer.socketClosed(conn.id);
    this.touched();
  }

  /** Sockets or commits changed: the directory hears of it, and sessions past the bound may go. */
  private touched(): void {
    this.parts.reporter.touch();
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
    const { core } = this.state;
    const { members } = this.parts;
    const count = core.sessionCount;
    // Also past twice the open sockets, so a room with more open sessions than the bound (a big live
    // audience) does not scan them all at every commit: each scan drops at least half of what it reads.
    if (count <= max || count <= 2 * members.openSockets) return;
    if (this.writer.busy || this.writer.broken || this.tasks.queued > 0) return;
    core.pruneSessions((key) => members.holdsSession(key));
  }

  onMessage(raw: string | ArrayBuffer | ArrayBufferView, conn: Conn) {
    const state = conn.state;
    if (state?.relay !== undefined) return this.parts.relays.frame(conn, raw, new SocketReply(conn, this.writer));
    if (state) this.parts.idle.heardWatched(conn.id); // any frame, `ping` included (PROTOCOL R80)
    this.parts.inbound.frame(raw, conn);
  }

  // ---- HTTP.

  onRequest(request: Party.Request): Promise<Response> {
    return this.parts.http.handle(request);
  }

  /** The operator stats route's body (PROTOCOL §6); the bench's stall report reads it too. */
  stats() {
    const { link, archive, uploads, janitor, log, relays, awareness, idle } = this.parts;
    return roomStats({
      room: this.room,
      bootId: this.bootId,
      core: this.state.core,
      counters: this.counters,
      link,
      writer: this.writer,
      archive,
      uploads,
      janitor,
      tasksQueued: this.tasks.queued,
      log,
      relays,
      awareness: awareness.states,
      notReadingClosed: idle.closed,
    });
  }

  // ---- Shared by the parts (room/wiring.ts RoomShell).

  /** One live frame to every socket (room/admission.ts), counted for the idle sweep, which may close some (PROTOCOL R80). */
  private broadcast(frame: string, skip?: Set<string>): void {
    this.parts.admission.broadcast(frame, skip);
    this.parts.idle.broadcast(frame);
  }

  /**
   * PROTOCOL R80: a socket that stopped reading is closed (4014) and released at once, as onError would: its
   * peer does not read, so the close may never be answered and no close event may come.
   */
  private dropNotReading(conn: Conn): void {
    this.closeSocket(conn, CLOSE.notReading, "not_reading");
    this.released(conn);
  }

  /** Every close the room starts: the socket leaves presence now, not when (or if) its peer answers. */
  private closeSocket(conn: Conn, code: number, reason: string): void {
    this.parts.members.detach(conn);
    this.parts.awareness.closed(conn.id); // its states go now, not when (or if) its peer answers the close
    try {
      conn.close(code, reason);
    } catch {
      // already closed
    }
  }

  private updateSettings(patch: RoomSettingsPatch): Promise<RoomSettings> {
    const { relays } = this.parts;
    return this.state.updateSettings(patch, (change) => {
      const before = relays.settingsNow();
      change();
      relays.settingsChanged(before); // a new shard count moves viewers (PROTOCOL R53), new hosts move to the room (R51)
    });
  }

  /**
   * Rebuilds the room's state from storage, in task order, once no write is collecting or in flight;
   * commands that reach a decision meanwhile get `storage_failed` (PROTOCOL R3).
   */
  private reloadState(): void {
    this.tasks.enqueue(async () => {
      await this.writer.idle();
      await this.state.reload();
      await this.parts.uploads.load(); // slots taken by the failed batch are free again: only what is durable counts
      // The inbox link is rebuilt from what was stored.
      await this.parts.link.reset().catch((error) => console.error("reloading the inbox link failed", error));
      this.writer.repaired();
    });
  }

  private ensureLink(request: Request): void {
    const origin = new URL(request.url).origin;
    this.linkLoading = this.parts.link
      .ensure(this.room.id, origin)
      .catch((error) => console.error("loading the inbox link failed", error));
  }

  /** A typed error to one command's reply, counted by code in stats. */
  private reply(reply: Reply, frame: ErrorFrame): void {
    this.counters.rejected[frame.code] = (this.counters.rejected[frame.code] ?? 0) + 1;
    this.parts.reporter.touch();
    reply.error(frame);
  }

  private refuse(conn: Conn, frame: ErrorFrame, closeCode: number): void {
    safeSend(conn, JSON.stringify(frame));
    this.closeSocket(conn, closeCode, frame.code);
  }
}

export type RoomStats = ReturnType<RoomServer["stats"]>;
