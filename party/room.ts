/**
 * The room actor: one PartyKit room per conversation, the single writer of its order.
 * A thin shell: it decodes frames (I8), loads what the pure core asks for, and carries out the core's
 * decisions: durable writes through the commit pipeline (I2), then acks and one serialised broadcast.
 */
import type * as Party from "partykit/server";
import { nanoid } from "nanoid";
import {
  ClientFrame,
  LIMITS,
  RoomSettings,
  RoomSettingsPatch,
  roomLimitsFromEnv,
  type Ack,
  type Command,
  type ErrorFrame,
  type HistoryRequest,
  type Identity,
  type RoomEvent,
  type RoomLimits,
  type ServerFrame,
  type WelcomeFrame,
} from "./protocol/index.ts";
import { identityFrom, tokenFromRequest, verifyToken, withIdentity } from "./auth.ts";
import { errorFrame, errorResponse, json, refusedSocket } from "./http.ts";
import { CommitPipeline } from "./core/commit-pipeline.ts";
import { RoomCore, type Accepted } from "./core/room-core.ts";
import { META_KEY, SETTINGS_KEY, sessionKey, type RoomMeta, type StoredSession } from "./core/keys.ts";
import { decideResume, historyRange } from "./core/resume.ts";
import { persistWrites, type WriteCounters } from "./adapters/storage-writer.ts";
import { eventsFrame, historyFrame, readEvents, readEventsJson } from "./room-queries.ts";
import { ConnectQuery, HistoryQuery, mayJoin } from "./room-access.ts";
import { ArchiveUnavailable, RoomArchive } from "./archive/outbox.ts";
import { archiveSettingsFromEnv } from "./archive/config.ts";
import { canonicalRoomId } from "./archive/room-id.ts";

/** Per-connection facts live in connection state so they survive hibernation. */
type ConnState = { user: Identity; session: string };
type Conn = Party.Connection<ConnState>;
/** What waits in the commit pipeline: an accepted command, or the ack of a resend whose original is not yet durable. */
type Pending = { conn: Conn; accepted?: Accepted; ack: Ack };

export default class RoomServer implements Party.Server {
  /**
   * Hibernation is opt-in (`KAIWA_HIBERNATE=1`). It would let idle rooms leave memory with sockets open,
   * but in partykit 0.0.115's runtime a server-initiated close of a hibernatable socket takes ~10 s to
   * reach the client (every refusal, resync and session replacement would stall), and per-frame dispatch
   * costs ~25% of a hot room's msgs/s (both measured here). The code is hibernation-safe either way:
   * per-connection facts live in connection state, and nothing keeps an interval running.
   */
  readonly options: Party.ServerOptions;
  private readonly bootId = nanoid(10);
  private readonly limits: RoomLimits;
  private core!: RoomCore;
  private pipeline: CommitPipeline<Pending>;
  /** The archive outbox (party/archive/outbox.ts): drained by the alarm, serves history past retention. */
  private readonly archive: RoomArchive;
  /** One task at a time: commands that must load state first keep their arrival order (I4). */
  private tail: Promise<void> = Promise.resolve();
  private queued = 0;
  /** Connections still receiving their resume replay: live frames wait here so order holds (I5). */
  private readonly catchingUp = new Map<string, string[]>();
  /** Sockets closed after a failed write: their queued frames are dropped so a resend keeps order (I4). */
  private readonly resyncing = new Set<string>();
  private broken = false;
  private writesStarted = 0;
  private readonly writeCounters: WriteCounters = { puts: 0, keys: 0 };
  private readonly counters = { accepted: 0, duplicates: 0, rejected: {} as Record<string, number>, storageFailures: 0 };

  constructor(readonly room: Party.Room) {
    this.limits = roomLimitsFromEnv(room.env);
    this.options = { hibernate: room.env.KAIWA_HIBERNATE === "1" };
    this.archive = new RoomArchive(room.storage, archiveSettingsFromEnv(room.env), () => this.core);
    this.pipeline = new CommitPipeline<Pending>(
      {
        persist: (writes) => {
          if (++this.writesStarted === this.limits.testFailWriteAt) return Promise.reject(new Error("test switch: injected write failure"));
          return persistWrites(room.storage, writes, this.writeCounters, this.limits.testWriteDelayMs);
        },
        schedule: (fn, ms) => void setTimeout(fn, ms),
        committed: (items) => this.onCommitted(items),
        failed: (items, error) => this.onWriteFailed(items, error),
      },
      this.limits.flushWindowMs,
      LIMITS.maxCommandsPerFlush,
    );
  }

  // ---- Worker side: verify the token before the room is touched (I7).

  static async onBeforeConnect(request: Party.Request, lobby: Party.Lobby) {
    const auth = await verifyToken(tokenFromRequest(request as unknown as Request), lobby.env);
    if (!auth.ok) return refusedSocket(auth.code, auth.message, 4001);
    return withIdentity(request as unknown as Request, auth.identity);
  }

  static async onBeforeRequest(request: Party.Request, lobby: Party.Lobby) {
    const auth = await verifyToken(tokenFromRequest(request as unknown as Request), lobby.env);
    if (!auth.ok) return errorResponse(auth.code, auth.message);
    return withIdentity(request as unknown as Request, auth.identity);
  }

  // ---- Lifecycle.

  async onStart() {
    this.core = await this.loadCore();
    await this.archive.load();
  }

  /** The archive drain (I9); returns at once (see RoomArchive.wake: `room.id` throws while an alarm runs). */
  onAlarm() {
    this.archive.wake();
  }

  private async loadCore(): Promise<RoomCore> {
    const stored = await this.room.storage.get<RoomMeta | StoredSettings>([META_KEY, SETTINGS_KEY]);
    let meta = stored.get(META_KEY) as RoomMeta | undefined;
    if (!meta) {
      // The epoch names this stream; a room whose storage is lost starts a new one (I5).
      meta = { epoch: nanoid(12), lastSeq: 0, createdAt: Date.now() };
      await this.room.storage.put(META_KEY, meta);
    }
    const settings = RoomSettings.parse(stored.get(SETTINGS_KEY) ?? {});
    return new RoomCore({ meta, settings, clock: Date.now, dedupeWindow: LIMITS.dedupeWindow, recentWindow: LIMITS.recentWindow });
  }

  onConnect(conn: Conn, ctx: Party.ConnectionContext) {
    const who = identityFrom(ctx.request as unknown as Request);
    if (!who) return this.refuse(conn, errorFrame("unauthorized"), 4001);
    const query = ConnectQuery.safeParse(Object.fromEntries(new URL(ctx.request.url).searchParams));
    if (!query.success) return this.refuse(conn, errorFrame("bad_frame", { message: "Connect with ?session=<id>[&epoch=&lastSeq=]." }), 4008);
    if (!mayJoin(this.room.id, who)) return this.refuse(conn, errorFrame("forbidden", { message: "This is a direct conversation between two other users." }), 4003);
    const session = query.data.session;
    conn.setState({ user: who, session });
    // One socket per device session: a reconnect replaces a half-open predecessor.
    for (const other of this.room.getConnections<ConnState>()) {
      if (other.id !== conn.id && other.state?.user.id === who.id && other.state.session === session) other.close(4012, "session_replaced");
    }
    this.catchingUp.set(conn.id, []);
    const replayUntil = this.core.committedSeq; // everything after this reaches the buffer (I5)
    this.enqueue(() => this.join(conn, who, query.data, replayUntil));
  }

  private async join(conn: Conn, who: Identity, query: ConnectQuery, replayUntil: number): Promise<void> {
    try {
      await this.welcome(conn, who, query, replayUntil);
    } catch (error) {
      // Without a welcome the client would wait for one until its heartbeat gave up: make it retry now.
      console.error("join failed", error);
      this.catchingUp.delete(conn.id);
      conn.close(1011, "join_failed");
    }
  }

  private async welcome(conn: Conn, who: Identity, query: ConnectQuery, replayUntil: number): Promise<void> {
    try {
      await this.ensureSession(who.id, query.session);
      await this.archive.noteMember(canonicalRoomId(this.room.id), who.id, Date.now());
      // Replay reaches back only as far as the room still stores events (older ones were archived and pruned).
      const resumeMaxEvents = this.archive.replayable(this.limits.resumeMaxEvents, replayUntil);
      const resume =
        query.epoch !== undefined && query.lastSeq !== undefined
          ? decideResume({ epoch: this.core.epoch, committedSeq: replayUntil, resumeMaxEvents }, { epoch: query.epoch, lastSeq: query.lastSeq })
          : null;
      const welcome = {
        type: "welcome",
        room: this.room.id,
        epoch: this.core.epoch,
        lastSeq: replayUntil,
        bootId: this.bootId,
        user: who,
        sessionLastN: this.core.sessionLastN(sessionKey(who.id, query.session)),
        resume,
        serverTime: Date.now(),
      } satisfies WelcomeFrame;
      safeSend(conn, JSON.stringify(welcome));
      if (resume?.recovered) {
        for (let from = query.lastSeq! + 1; from <= replayUntil; from += LIMITS.replayChunkEvents) {
          const before = Math.min(from + LIMITS.replayChunkEvents, replayUntil + 1);
          safeSend(conn, eventsFrame(await readEventsJson(this.room.storage, this.core, from, before), true));
        }
      }
    } finally {
      for (const frame of this.catchingUp.get(conn.id) ?? []) safeSend(conn, frame);
      this.catchingUp.delete(conn.id);
    }
  }

  onClose(conn: Conn) {
    this.catchingUp.delete(conn.id);
    // `resyncing` keeps the id: frames of this socket may still wait in the task chain and must stay dropped.
    // Hibernatable sockets do not answer a client's close frame by themselves; without this the
    // client sees 1006 (abnormal) for its own clean close.
    try {
      conn.close(1000, "bye");
    } catch {
      // already closed
    }
  }

  // ---- Inbound frames.

  onMessage(raw: string | ArrayBuffer | ArrayBufferView, conn: Conn) {
    if (raw === "ping") return void safeSend(conn, "pong"); // half-open detection (client/heartbeat)
    const state = conn.state;
    if (!state) return this.refuse(conn, errorFrame("unauthorized"), 4001);
    if (typeof raw !== "string") return this.reply(conn, errorFrame("bad_frame", { message: "Frames are JSON text." }));
    if (raw.length > LIMITS.maxFrameBytes / 3 && new TextEncoder().encode(raw).length > LIMITS.maxFrameBytes) {
      return this.reply(conn, errorFrame("frame_too_large", { message: `Frames are at most ${LIMITS.maxFrameBytes} bytes.` }));
    }
    let data: unknown;
    try {
      data = JSON.parse(raw);
    } catch {
      return this.reply(conn, errorFrame("bad_frame", { message: "The frame is not valid JSON." }));
    }
    const frame = ClientFrame.safeParse(data);
    if (!frame.success) {
      const ref = refOf(data);
      const issue = frame.error.issues[0];
      const message = issue ? `${issue.path.join(".") || "frame"}: ${issue.message}` : "Invalid frame.";
      return this.reply(conn, errorFrame("bad_frame", { message, ...(ref ? { ref } : {}) }));
    }
    const command = frame.data;
    if (command.type === "history") return void this.answerHistory(conn, command);
    // Fast path: with nothing queued ahead and nothing to load, decide now (no promise per frame).
    const ready = this.queued === 0 && this.core.dedupeLoaded && this.core.hasSession(sessionKey(state.user.id, state.session));
    if (ready && this.core.missingTarget(command) === undefined) this.decide(conn, state, command, undefined);
    else this.enqueue(() => this.loadAndDecide(conn, state, command));
  }

  /** The slow path: load the session, the dedupe window or an edit's target, then decide in arrival order. */
  private async loadAndDecide(conn: Conn, state: ConnState, command: Command): Promise<void> {
    let loaded: RoomEvent | undefined;
    try {
      loaded = await this.load(state, command);
    } catch (error) {
      // A command left unanswered would let later ones from the same session overtake it (I4).
      console.error("loading for a command failed", error);
      this.reply(conn, errorFrame("internal", { ref: command.clientId }));
      return this.resync(conn);
    }
    this.decide(conn, state, command, loaded);
  }

  /** Loads what the core needs for `command`; returns the edit/delete target if it had to be read. */
  private async load(state: ConnState, command: Command): Promise<RoomEvent | undefined> {
    await this.ensureSession(state.user.id, state.session);
    if (!this.core.dedupeLoaded) {
      const from = Math.max(1, this.core.committedSeq - LIMITS.dedupeWindow + 1);
      this.core.loadDedupe(await readEvents(this.room.storage, this.core, from, this.core.committedSeq + 1));
    }
    const missing = this.core.missingTarget(command);
    return missing === undefined ? undefined : (await readEvents(this.room.storage, this.core, missing, missing + 1))[0];
  }

  private decide(conn: Conn, state: ConnState, command: Command, loaded: RoomEvent | undefined): void {
    if (this.resyncing.has(conn.id)) return;
    if (this.broken) {
      // Later frames of this socket would be decided on the reloaded state and overtake this one (I4).
      this.reply(conn, errorFrame("storage_failed", { ref: command.clientId }));
      return this.resync(conn);
    }
    const outcome = this.core.handle(command, state.user, state.session, loaded);
    if (outcome.status === "accepted") {
      this.counters.accepted++;
      this.pipeline.add({ conn, accepted: outcome, ack: outcome.ack }, outcome.writes);
    } else if (outcome.status === "duplicate") {
      this.counters.duplicates++;
      // I3: the original ack, and only once the original is durable (I2).
      if (outcome.committed) safeSend(conn, JSON.stringify({ type: "ack", acks: [outcome.ack] } satisfies ServerFrame));
      else this.pipeline.add({ conn, ack: outcome.ack });
    } else {
      this.reply(conn, errorFrame(outcome.error.code, { ...outcome.error, ref: command.clientId }));
    }
  }

  private async answerHistory(conn: Conn, request: HistoryRequest): Promise<void> {
    try {
      const { from, before } = historyRange(this.core.committedSeq, request.before, request.limit);
      const events = await this.archive.history(from, before);
      safeSend(conn, historyFrame(request.requestId, events, from > 1));
    } catch (error) {
      if (error instanceof ArchiveUnavailable) return this.reply(conn, errorFrame("archive_unavailable", { ref: request.requestId }));
      console.error("history failed", error);
      this.reply(conn, errorFrame("internal", { ref: request.requestId }));
    }
  }

  // ---- Commit results.

  private onCommitted(items: Pending[]): void {
    const accepted = items.flatMap((item) => (item.accepted ? [item.accepted] : []));
    this.core.commit(accepted);
    const acksByConn = new Map<Conn, Ack[]>();
    for (const item of items) {
      const acks = acksByConn.get(item.conn) ?? [];
      acks.push(item.ack);
      acksByConn.set(item.conn, acks);
    }
    for (const [conn, acks] of acksByConn) safeSend(conn, JSON.stringify({ type: "ack", acks } satisfies ServerFrame));
    if (accepted.length === 0) return;
    this.archive.committed(canonicalRoomId(this.room.id));
    // Serialised once, the same string to every socket.
    const frame = eventsFrame(accepted.map((a) => a.eventJson));
    for (const conn of this.room.getConnections()) {
      const buffer = this.catchingUp.get(conn.id);
      if (buffer) buffer.push(frame);
      else safeSend(conn, frame);
    }
  }

  private onWriteFailed(items: Pending[], error: unknown): void {
    console.error("room write failed; rejecting the batch and reloading state", error);
    this.counters.storageFailures++;
    this.broken = true;
    for (const item of items) {
      this.reply(item.conn, errorFrame("storage_failed", { ref: item.ack.clientId }));
      // The session's later frames were sequenced on the failed state: close so the client resends in order.
      this.resync(item.conn);
    }
    this.enqueue(async () => {
      this.core = await this.loadCore();
      this.broken = false;
    });
  }

  // ---- HTTP: history for members, stats and settings for operators.

  async onRequest(request: Party.Request): Promise<Response> {
    const who = identityFrom(request as unknown as Request);
    if (!who) return errorResponse("unauthorized");
    const url = new URL(request.url);
    const action = url.pathname.split("/").pop();
    if (request.method === "GET" && action === "history") {
      if (!mayJoin(this.room.id, who)) return errorResponse("forbidden");
      const query = HistoryQuery.safeParse(Object.fromEntries(url.searchParams));
      if (!query.success) return errorResponse("bad_frame", `before must be a positive integer; limit 1..${LIMITS.maxHistoryLimit}.`);
      const range = historyRange(this.core.committedSeq, query.data.before, query.data.limit);
      let events: string[];
      try {
        events = await this.archive.history(range.from, range.before);
      } catch (error) {
        if (error instanceof ArchiveUnavailable) return errorResponse("archive_unavailable");
        throw error;
      }
      return new Response(`{"events":[${events.join(",")}],"hasMore":${range.from > 1}}`, { headers: { "content-type": "application/json" } });
    }
    if (who.role !== "operator") return errorResponse("forbidden", "Operators only.");
    if (request.method === "GET" && action === "stats") return json(this.stats());
    if ((request.method === "PATCH" || request.method === "PUT") && action === "settings") {
      const patch = RoomSettingsPatch.safeParse(await request.json().catch(() => undefined));
      if (!patch.success) return errorResponse("bad_frame", patch.error.issues[0]?.message);
      const settings = RoomSettings.parse({ ...this.core.settings, ...patch.data });
      await this.room.storage.put(SETTINGS_KEY, settings);
      this.core.settings = settings;
      return json({ settings });
    }
    return errorResponse("not_found", "No such route.");
  }

  private stats() {
    let connections = 0;
    for (const _ of this.room.getConnections()) connections++;
    return {
      room: this.room.id,
      bootId: this.bootId,
      epoch: this.core.epoch,
      lastSeq: this.core.committedSeq,
      connections,
      settings: this.core.settings,
      commands: { ...this.counters },
      writes: { ...this.writeCounters, flushes: this.pipeline.counters.flushes, batchedItems: this.pipeline.counters.items },
      archive: this.archive.stats(this.core.committedSeq),
    };
  }

  // ---- Helpers.

  private async ensureSession(userId: string, session: string): Promise<void> {
    const key = sessionKey(userId, session);
    if (!this.core.hasSession(key)) this.core.setSession(key, await this.room.storage.get<StoredSession>(key));
  }

  /** Drop this socket's queued frames and close it; the client reconnects and resends in order (4013). */
  private resync(conn: Conn): void {
    if (this.resyncing.has(conn.id)) return;
    this.resyncing.add(conn.id);
    conn.close(4013, "resync_required");
  }

  private enqueue(task: () => Promise<void>): void {
    this.queued++;
    this.tail = this.tail
      .then(task)
      .catch((error) => console.error("room task failed", error))
      .then(() => void this.queued--);
  }

  private reply(conn: Conn, frame: ErrorFrame): void {
    const count = this.counters.rejected[frame.code] ?? 0;
    this.counters.rejected[frame.code] = count + 1;
    safeSend(conn, JSON.stringify(frame));
  }

  private refuse(conn: Conn, frame: ErrorFrame, closeCode: number): void {
    safeSend(conn, JSON.stringify(frame));
    conn.close(closeCode, frame.code);
  }
}

type StoredSettings = Partial<RoomSettings>;

function safeSend(conn: Party.Connection, frame: string): void {
  try {
    conn.send(frame);
  } catch {
    // The socket closed under us; the client resumes from its position.
  }
}

function refOf(data: unknown): string | undefined {
  if (typeof data !== "object" || data === null) return undefined;
  const record = data as Record<string, unknown>;
  const ref = record.clientId ?? record.requestId;
  return typeof ref === "string" && ref.length <= 64 ? ref : undefined;
}

