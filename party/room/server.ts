/**
 * The room actor: one PartyKit room per conversation, the single writer of its order.
 * A thin shell: it decodes frames (I8), loads what the pure core asks for, and carries out the core's
 * decisions: durable writes through the commit pipeline (I2), then acks and one serialised broadcast.
 */
import type * as Party from "partykit/server";
import { nanoid } from "nanoid";
import {
  ClientFrame,
  ConnectQuery,
  HistoryQuery,
  ReadBody,
  LIMITS,
  RoomSettings,
  RoomSettingsPatch,
  roomLimitsFromEnv,
  roomKind,
  type Ack,
  Command,
  type ErrorFrame,
  type HistoryRequest,
  type Identity,
  type RoomEvent,
  type RoomLimits,
  RoomCommandsBody,
  type RoomCommandResult,
  type ServerFrame,
  type WelcomeFrame,
} from "../protocol/index.ts";
import { identityFrom } from "../worker/auth.ts";
import { drainBody, errorResponse, json } from "../adapters/http.ts";
import { errorFrame } from "../protocol/error-frame.ts";
import { CommitPipeline } from "../core/commit-pipeline.ts";
import { RoomCore, type Accepted, type Outcome } from "../core/room-core.ts";
import { MEMBERS_KEY, META_KEY, SETTINGS_KEY, sessionKey, type RoomMeta, type StoredSession } from "../core/keys.ts";
import { decideResume, historyRange } from "../core/resume.ts";
import { persistWrites, type WriteCounters } from "../adapters/storage-writer.ts";
import { readEvents, readEventsJson } from "../adapters/event-log.ts";
import { eventsFrame, historyFrame } from "./frames-out.ts";
import { mayJoin } from "../core/access.ts";
import { RoomInboxLink, WHERE_KEY, farewellWrite } from "./inbox-link.ts";
import { Membership, type MembershipState } from "../core/membership.ts";
import { gateRequest, gateSocket, isActorCall } from "../worker/service-auth.ts";
import { checkFrame, decodeFrame } from "../protocol/decode.ts";
import { ItemReply } from "./http-reply.ts";
import { RoomAdmin, type AdminAction, type AdminResult } from "./admin.ts";
import { Histogram } from "../core/histogram.ts";
import { MODERATION_PREFIX, Moderation, type Restriction } from "../core/moderation.ts";
import { directoryReporter } from "../adapters/directory-reporter.ts";
import { ArchiveUnavailable, RoomArchive } from "../archive/outbox.ts";
import { archiveSettingsFromEnv } from "../archive/config.ts";
import { canonicalRoomId } from "../archive/room-id.ts";
import { AlarmClock } from "../adapters/alarm-clock.ts";

import { answerClose, safeSend } from "../adapters/sockets.ts";
import type { Conn, ConnState, Pending, Replier } from "./types.ts";
import { RoomMembers } from "./members.ts";

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
  /** The room's one storage alarm, shared by the archive drain and the inbox link. */
  private readonly alarms: AlarmClock;
  /** One task at a time: commands that must load state first keep their arrival order (I4). */
  private tail: Promise<void> = Promise.resolve();
  private queued = 0;
  /** Connections still receiving their resume replay: live frames wait here so order holds (I5). */
  private readonly catchingUp = new Map<string, string[]>();
  /**
   * Sockets closed to resync (a failed write or release, a failed load): their frames still queued are
   * dropped so a resend keeps order (I4). An id leaves once its socket closed and those frames are gone.
   */
  private readonly resyncing = new Set<string>();
  private broken = false;
  private writesStarted = 0;
  private releasesStarted = 0;
  /** Whether the room's state took the batch being released (see onCommitted, onReleaseFailed). */
  private stateTaken = true;
  private resyncClosed = 0;
  /**
   * When the write now in flight was handed to storage: a slow write shows in stats as its age. One that
   * never confirms shows as stats not answering, since the output gate holds every response behind it.
   */
  private writeStartedAt: number | undefined;
  private readonly writeCounters: WriteCounters = { puts: 0, keys: 0 };
  private readonly counters = { accepted: 0, duplicates: 0, rejected: {} as Record<string, number>, storageFailures: 0, releaseFailures: 0 };
  /** Members' inboxes: read positions, unread counts, notifications (DM rooms; inert elsewhere). */
  private readonly link: RoomInboxLink;
  /** Reads, receipts, presence, typing and membership cut-offs (party/room-members.ts). */
  private readonly members: RoomMembers;
  // Operator tools (party/room-admin.ts): ack latency, coalesced directory reports, admin routes.
  readonly ackLatency = new Histogram();
  readonly admin = new RoomAdmin(this);
  readonly reporter: ReturnType<typeof directoryReporter>;

  constructor(readonly room: Party.Room) {
    this.limits = roomLimitsFromEnv(room.env);
    this.options = { hibernate: room.env.KAIWA_HIBERNATE === "1" };
    this.alarms = new AlarmClock(room.storage);
    this.link = new RoomInboxLink(room, () => this.core, this.limits, this.alarms);
    this.members = new RoomMembers({
      room,
      link: this.link,
      core: () => this.core,
      linkReady: () => this.linkReady,
      isBroken: () => this.broken,
      reply: (conn, frame) => this.reply(conn, frame),
      refuse: (conn, frame, closeCode) => this.refuse(conn, frame, closeCode),
      queue: (item, writes) => this.pipeline.add(item, writes),
      broadcast: (frame) => this.broadcastFrame(frame),
    });
    // DMs show "delivered": the peer's inbox confirmed it has the message.
    this.link.onConfirmed = (user, seq) => {
      if (!this.core.membership) this.members.signals.deliveredTo(user, seq);
    };
    this.reporter = directoryReporter(room, () => this.admin.report());
    this.archive = new RoomArchive(room.storage, archiveSettingsFromEnv(room.env), () => this.core, this.alarms);
    this.pipeline = new CommitPipeline<Pending>(
      {
        persist: (writes) => {
          if (++this.writesStarted === this.limits.testFailWriteAt) return Promise.reject(new Error("test switch: injected write failure"));
          this.link.armAlarm(); // same turn as the puts: a crash after this write still notifies inboxes
          this.writeStartedAt = Date.now();
          return persistWrites(room.storage, writes, this.writeCounters, this.limits.testWriteDelayMs);
        },
        schedule: (fn, ms) => void setTimeout(fn, ms),
        committed: (items) => {
          this.writeStartedAt = undefined;
          this.onCommitted(items);
        },
        failed: (items, error) => {
          this.writeStartedAt = undefined;
          this.onWriteFailed(items, error);
        },
        releaseFailed: (items, error) => this.onReleaseFailed(items, error),
      },
      this.limits.flushWindowMs,
      LIMITS.maxCommandsPerFlush,
    );
  }

  // ---- Worker side: verify the token before the room is touched (I7).

  static onBeforeConnect(request: Party.Request, lobby: Party.Lobby) {
    return gateSocket(request as unknown as Request, lobby);
  }

  static onBeforeRequest(request: Party.Request, lobby: Party.Lobby) {
    return gateRequest(request as unknown as Request, lobby);
  }

  // ---- Lifecycle.

  async onStart() {
    this.core = await this.loadCore();
    await Promise.all([this.archive.load(), this.alarms.load()]);
    this.members.reindex();
  }

  /**
   * The one alarm wakes both of its users: the archive drain (I9) and inbox notification retries (IB3).
   * Returns at once: while an alarm handler runs, partykit makes `room.id` and `context.parties` throw for
   * every handler of the room, so the work runs in the background (see RoomArchive.wake).
   */
  onAlarm() {
    this.alarms.fired();
    this.archive.wake();
    this.link.wake();
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
    const moderation = new Moderation(await this.room.storage.list<Restriction>({ prefix: MODERATION_PREFIX }));
    // Groups (`g:<id>`) carry members and roles; every command there needs membership.
    const roomId = await this.resolveRoomId();
    const membership = roomId !== undefined && roomKind(roomId) === "group" ? new Membership(await this.room.storage.get<MembershipState>(MEMBERS_KEY), LIMITS.maxGroupMembers) : undefined;
    return new RoomCore({ meta, settings, moderation, clock: Date.now, dedupeWindow: LIMITS.dedupeWindow, recentWindow: LIMITS.recentWindow, ...(membership ? { membership } : {}) });
  }

  /** `room.id` throws inside onAlarm (partykit 0.0.115): fall back to the id stored at the first request. */
  private async resolveRoomId(): Promise<string | undefined> {
    try {
      return decodeURIComponent(this.room.id);
    } catch {
      return (await this.room.storage.get<{ roomId: string }>(WHERE_KEY))?.roomId;
    }
  }

  onConnect(conn: Conn, ctx: Party.ConnectionContext) {
    const who = identityFrom(ctx.request as unknown as Request);
    if (!who) return this.refuse(conn, errorFrame("unauthorized"), 4001);
    const query = ConnectQuery.safeParse(Object.fromEntries(new URL(ctx.request.url).searchParams));
    if (!query.success) return this.refuse(conn, errorFrame("bad_frame", { message: "Connect with ?session=<id>[&epoch=&lastSeq=]." }), 4008);
    if (!mayJoin(this.room.id, who)) return this.refuse(conn, errorFrame("forbidden", { message: "This is a direct conversation between two other users." }), 4003);
    const observing = query.data.observe === "1";
    const barred = this.admin.connectRefusal(who, observing);
    if (barred) return this.refuse(conn, barred.frame, barred.closeCode);
    // Groups: members only; operators may watch as observers (the dashboard's live tail).
    const membership = this.core.membership;
    if (membership?.exists && !membership.has(who.id) && !observing) return this.refuse(conn, errorFrame("not_member"), 4004);
    const session = query.data.session;
    conn.setState({ user: who, session, ...(observing ? { observer: true as const } : {}) });
    this.reporter.touch();
    // One socket per device session: a reconnect replaces a half-open predecessor (R13).
    const replaced = this.members.opened(conn);
    const predecessor = replaced === undefined ? undefined : this.room.getConnection<ConnState>(replaced);
    if (predecessor) this.closeSocket(predecessor, 4012, "session_replaced");
    this.catchingUp.set(conn.id, []);
    const replayUntil = this.core.committedSeq; // everything after this reaches the buffer (I5)
    this.ensureLink(ctx.request as unknown as Request);
    this.enqueue(() => this.join(conn, who, query.data, replayUntil));
  }

  private async join(conn: Conn, who: Identity, query: ConnectQuery, replayUntil: number): Promise<void> {
    try {
      await this.welcome(conn, who, query, replayUntil);
    } catch (error) {
      // Without a welcome the client would wait for one until its heartbeat gave up: make it retry now.
      console.error("join failed", error);
      this.catchingUp.delete(conn.id);
      this.closeSocket(conn, 1011, "join_failed");
    }
  }

  private async welcome(conn: Conn, who: Identity, query: ConnectQuery, replayUntil: number): Promise<void> {
    try {
      await this.ensureSession(who.id, query.session);
      await this.linkReady;
      // Observers (operators watching) are not members: search must not open the room to them. A group's
      // members for search come from its events alone (PROTOCOL R14a): a join there records nothing, even
      // before the group is created (anyone may open the socket the creator needs).
      if (!conn.state?.observer && !this.core.membership) await this.archive.noteMember(canonicalRoomId(this.room.id), who.id, Date.now());
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
        accepts: ["batch"],
        resume,
        serverTime: Date.now(),
        ...(this.link.active ? { members: await this.members.block() } : {}),
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

  /** A socket that ends in an error may get no close event: it leaves presence here. */
  onError(conn: Conn) {
    this.catchingUp.delete(conn.id);
    this.members.detach(conn);
  }

  onClose(conn: Conn) {
    this.catchingUp.delete(conn.id);
    this.members.closed(conn);
    this.reporter.touch();
    // Frames of this socket may still wait in the task chain and must stay dropped: the id leaves
    // `resyncing` by a task queued behind them (no frame of a closed socket comes after this).
    if (this.resyncing.has(conn.id)) this.enqueue(async () => void this.resyncing.delete(conn.id));
    answerClose(conn);
  }

  // ---- Inbound frames.

  onMessage(raw: string | ArrayBuffer | ArrayBufferView, conn: Conn) {
    if (raw === "ping") return void safeSend(conn, "pong"); // half-open detection (client/heartbeat)
    const state = conn.state;
    if (!state) return this.refuse(conn, errorFrame("unauthorized"), 4001);
    const decoded = decodeFrame(raw, ClientFrame);
    if (!decoded.ok) return this.reply(conn, decoded.error);
    const command = decoded.frame;
    if (command.type === "history") return void this.answerHistory(conn, command);
    if (command.type === "read") return void this.members.readOverSocket(conn, state.user, command.seq, command.requestId);
    if (command.type === "typing") return this.members.typing(conn, state.user);
    if (command.type === "batch") return this.submitBatch(conn, state, command.commands);
    this.submit(conn, state, command);
  }

  /** R17: each element as if it were its own frame, in order; a bad one is answered alone. */
  private submitBatch(conn: Conn, state: ConnState, elements: unknown[]): void {
    for (const element of elements) {
      const checked = checkFrame(element, Command);
      if (checked.ok) this.submit(conn, state, checked.frame);
      else this.reply(conn, checked.error);
    }
  }

  private submit(conn: Replier, state: ConnState, command: Command): void {
    // Fast path: with nothing queued ahead and nothing to load, decide now (no promise per frame).
    const ready = this.queued === 0 && this.core.dedupeLoaded && this.core.hasSession(sessionKey(state.user.id, state.session));
    if (ready && this.core.missingTarget(command) === undefined) this.decide(conn, state, command, undefined);
    else this.enqueue(() => this.loadAndDecide(conn, state, command));
  }

  /** The slow path: load the session, the dedupe window or an edit's target, then decide in arrival order. */
  private async loadAndDecide(conn: Replier, state: ConnState, command: Command): Promise<void> {
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

  private decide(conn: Replier, state: ConnState, command: Command, loaded: RoomEvent | undefined): void {
    if (this.resyncing.has(conn.id)) return;
    if (this.broken) {
      // Later frames of this socket would be decided on the reloaded state and overtake this one (I4).
      this.reply(conn, errorFrame("storage_failed", { ref: command.clientId }));
      return this.resync(conn);
    }
    const outcome = this.core.handle(command, state.user, state.session, loaded);
    if (outcome.status === "accepted") {
      this.counters.accepted++;
      // A removed member is owed one last notification (their list says they left): durable with the event.
      const farewells = (outcome.removed ?? []).map((user) => farewellWrite(user, outcome.event.seq, outcome.event.ts));
      this.pipeline.add({ conn, accepted: outcome, ack: outcome.ack, at: Date.now() }, farewells.length ? [...outcome.writes, ...farewells] : outcome.writes);
    } else if (outcome.status === "duplicate") {
      this.counters.duplicates++;
      // I3: the original ack, and only once the original is durable (I2).
      if (outcome.committed) this.sendAcks(conn, [outcome.ack]);
      else this.pipeline.add({ conn, ack: outcome.ack });
    } else {
      this.reply(conn, errorFrame(outcome.error.code, { ...outcome.error, ref: command.clientId }));
    }
  }

  private async answerHistory(conn: Conn, request: HistoryRequest): Promise<void> {
    const membership = this.core.membership;
    if (membership && !membership.has(conn.state?.user.id ?? "") && !conn.state?.observer) return this.reply(conn, errorFrame("not_member", { ref: request.requestId }));
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
    // First the room's state takes the batch, then the batch is released (acks, broadcast). If either
    // throws, onReleaseFailed learns from `stateTaken` which one it has to repair.
    this.stateTaken = false;
    const failHere = ++this.releasesStarted === this.limits.testFailReleaseAt;
    if (failHere && this.limits.testFailReleaseStage === "state") throw new Error("test switch: injected failure before the state took the batch");
    const accepted = items.flatMap((item) => (item.accepted ? [item.accepted] : []));
    this.core.commit(accepted);
    const reads = items.flatMap((item) => (item.read ? [item.read] : []));
    this.members.readsCommitted(reads);
    this.link.committed(
      accepted.map((a) => ({ event: a.event, json: a.eventJson, ...(a.targetAfter ? { targetBefore: a.targetAfter } : {}) })),
      reads,
    );
    this.stateTaken = true;
    if (failHere) throw new Error("test switch: injected release failure");
    const acksByConn = new Map<Replier, Ack[]>();
    const now = Date.now();
    for (const item of items) {
      if (item.at !== undefined) this.ackLatency.observe(now - item.at);
      if (!item.conn) {
        item.settle?.(); // an admin action (runAdmin)
        continue;
      }
      if (item.read) {
        if (item.conn instanceof ItemReply) item.conn.resolve({ read: item.read.seq });
        else safeSend(item.conn, JSON.stringify({ type: "receipts", reads: { [item.read.user]: item.read.seq }, ...(item.requestId ? { requestId: item.requestId } : {}) }));
      }
      if (!item.ack) continue;
      const acks = acksByConn.get(item.conn) ?? [];
      acks.push(item.ack);
      acksByConn.set(item.conn, acks);
    }
    for (const [conn, acks] of acksByConn) this.sendAcks(conn, acks);
    if (accepted.length === 0) return;
    this.reporter.touch();
    this.archive.committed(canonicalRoomId(this.room.id));
    const cutOff = this.members.cutOff(accepted);
    // Serialised once, the same string to every socket (but those just cut off).
    this.broadcastFrame(eventsFrame(accepted.map((a) => a.eventJson)), cutOff);
  }

  /** One serialised frame to every socket; sockets still receiving their replay get it after (I5). */
  private broadcastFrame(frame: string, skip?: Set<string>): void {
    for (const conn of this.room.getConnections()) {
      if (skip?.has(conn.id)) continue;
      const buffer = this.catchingUp.get(conn.id);
      if (buffer) buffer.push(frame);
      else safeSend(conn, frame);
    }
  }

  /**
   * The batch is durable, but `onCommitted` threw part way (R3a), so some sockets may lack its acks or
   * events. Rather than guess which, every socket resyncs (4013): each client resumes gaplessly from its
   * last seq (I5) and resends what is unacked, which dedupe answers with the stored acks (I3). HTTP
   * callers (admin actions, inbox devices) are answered here. If the throw came before the room's state
   * had taken the batch, that state cannot be trusted (its committed seq, edit overlay, read and inbox
   * bookkeeping may be part-updated, and `core.commit` cannot be re-run): the room reloads it from
   * storage, as after a failed write, once what collected behind the batch is written too.
   */
  private onReleaseFailed(items: Pending[], error: unknown): void {
    console.error("releasing a committed batch failed; every socket resyncs", error);
    this.counters.releaseFailures++;
    for (const item of items) {
      if (!item.conn) item.settle?.();
      else if (item.conn instanceof ItemReply) {
        if (item.read) item.conn.resolve({ read: item.read.seq });
        else if (item.ack) item.conn.resolve({ ack: item.ack });
      }
    }
    const accepted = items.flatMap((item) => (item.accepted ? [item.accepted] : []));
    if (!this.stateTaken) {
      this.broken = true;
      this.members.writeFailed();
      this.reloadState();
    } else if (accepted.length > 0) {
      // What the release did after the acks, each guarded so one more throw does not skip the resync.
      guarded("arming the archive drain", () => this.archive.committed(canonicalRoomId(this.room.id)));
      // Members removed in this batch still get its events up to their removal, then 4004 (not 4013).
      guarded("cutting off removed members", () => this.members.cutOff(accepted));
    }
    for (const conn of this.room.getConnections<ConnState>()) this.resync(conn);
  }

  private onWriteFailed(items: Pending[], error: unknown): void {
    console.error("room write failed; rejecting the batch and reloading state", error);
    this.counters.storageFailures++;
    this.broken = true;
    this.members.writeFailed();
    for (const item of items) {
      if (!item.conn) {
        item.settle?.(error);
        continue;
      }
      this.reply(item.conn, errorFrame("storage_failed", item.ack ? { ref: item.ack.clientId } : {}));
      // The session's later frames were sequenced on the failed state: close so the client resends in order.
      this.resync(item.conn);
    }
    this.reloadState();
  }

  /**
   * Rebuilds the room's state from storage, in task order, once no write is collecting or in flight;
   * commands that reach a decision meanwhile get `storage_failed` (R3).
   */
  private reloadState(): void {
    this.enqueue(async () => {
      await this.pipeline.idle();
      this.core = await this.loadCore();
      await this.link.reset().catch((error) => console.error("reloading the inbox link failed", error)); // rebuilt from what was stored
      this.broken = false;
    });
  }

  // ---- HTTP: history for members, stats and settings for operators.

  async onRequest(request: Party.Request): Promise<Response> {
    await drainBody(request as unknown as Request); // every answer below may come before the body is read
    const who = identityFrom(request as unknown as Request);
    if (!who) return errorResponse("unauthorized");
    const url = new URL(request.url);
    const action = url.pathname.split("/").pop();
    if (url.pathname.includes("/admin/")) return this.admin.handle(request, who, url);
    this.ensureLink(request as unknown as Request);
    if (request.method === "GET" && action === "history") {
      if (!mayJoin(this.room.id, who)) return errorResponse("forbidden");
      if (this.core.membership && !this.core.membership.has(who.id)) return errorResponse("not_member");
      const query = HistoryQuery.safeParse(Object.fromEntries(url.searchParams));
      if (!query.success) return errorResponse("bad_frame", `before/after must be integers; limit 1..${LIMITS.maxHistoryLimit}.`);
      const committed = this.core.committedSeq;
      const { after, before, limit } = query.data;
      // `after`: catch-up reading forwards (inbox sync); otherwise pages backwards from `before`.
      const range = after !== undefined ? { from: after + 1, before: Math.min(after + 1 + limit, committed + 1) } : historyRange(committed, before, limit);
      const hasMore = after !== undefined ? range.before <= committed : range.from > 1;
      let events: string[];
      try {
        // Past the room's retention window the archive answers, in the same shape and order.
        events = await this.archive.history(range.from, range.before);
      } catch (error) {
        if (error instanceof ArchiveUnavailable) return errorResponse("archive_unavailable");
        throw error;
      }
      return new Response(`{"events":[${events.join(",")}],"lastSeq":${committed},"hasMore":${hasMore}}`, { headers: { "content-type": "application/json" } });
    }
    if (request.method === "POST" && action === "wake") {
      // An inbox that is owed a notification wakes the room (partykit dev loses alarms on restart).
      if (!isActorCall(request as unknown as Request)) return errorResponse("forbidden", "Only actors call this route.");
      await this.linkReady;
      this.link.kick();
      return json({ ok: true });
    }
    if (request.method === "POST" && (action === "commands" || action === "read")) {
      // Actor routes: an inbox acting for a user it verified. Clients use their socket instead.
      if (!isActorCall(request as unknown as Request)) return errorResponse("forbidden", "Only actors call this route.");
      if (!mayJoin(this.room.id, who)) return errorResponse("forbidden");
      const body: unknown = await request.json().catch(() => undefined);
      return action === "commands" ? this.commandsOverHttp(who, body) : this.readOverHttp(who, body);
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

  /** An inbox's batch of DM commands: each decided like a socket frame, answered after the durable write. */
  private async commandsOverHttp(who: Identity, raw: unknown): Promise<Response> {
    const body = RoomCommandsBody.safeParse(raw);
    if (!body.success) return errorResponse("bad_frame", body.error.issues[0]?.message);
    const results = await Promise.all(
      body.data.items.map(
        ({ session, command }) =>
          new Promise<RoomCommandResult | { read: number }>((resolve) => {
            this.submit(new ItemReply(resolve), { user: who, session }, command);
          }),
      ),
    );
    return json({ results });
  }

  /** A member's read position (I6): forward only, never past the committed seq, durable before answered. */
  private async readOverHttp(who: Identity, raw: unknown): Promise<Response> {
    const body = ReadBody.safeParse(raw);
    if (!body.success) return errorResponse("bad_frame", body.error.issues[0]?.message);
    await this.linkReady;
    const refused = this.members.checkRead(who, body.data.seq);
    if (refused) return errorResponse(refused.code, refused.message);
    if (this.members.needsReadWrite(who, body.data.seq)) {
      const outcome = await new Promise<RoomCommandResult | { read: number }>((resolve) => this.members.queueRead(new ItemReply(resolve), who, body.data.seq));
      if ("error" in outcome) return errorResponse(outcome.error.code, outcome.error.message);
    }
    return json(this.link.snapshot(who.id));
  }

  /** The operator stats route's body (PROTOCOL.md §6); the bench's stall report reads it too. */
  stats() {
    let connections = 0;
    for (const _ of this.room.getConnections()) connections++;
    return {
      room: this.room.id,
      bootId: this.bootId,
      epoch: this.core.epoch,
      lastSeq: this.core.committedSeq,
      connections,
      settings: this.core.settings,
      inboxes: this.link.stats(),
      commands: { ...this.counters },
      writes: { ...this.writeCounters, flushes: this.pipeline.counters.flushes, batchedItems: this.pipeline.counters.items },
      // Where commands wait right now (and how many sockets were closed to resync since the room started):
      // a room that stops acking shows which stage holds them.
      work: {
        collecting: this.pipeline.pending,
        writeInFlightMs: this.writeStartedAt === undefined ? null : Date.now() - this.writeStartedAt,
        tasksQueued: this.queued,
        broken: this.broken,
        resyncClosed: this.resyncClosed,
      },
      archive: this.archive.stats(this.core.committedSeq),
    };
  }

  /**
   * An operator action from the admin API (party/room-admin.ts), decided in the room's task order like a
   * socket's frame (I4) and settled only once durable (I2); clients see it in the broadcast like any event.
   */
  runAdmin(who: Identity, action: AdminAction, clientId: string): Promise<AdminResult> {
    return new Promise((resolve, reject) => {
      this.enqueue(async () => {
        try {
          if (this.broken) return resolve({ ok: false, error: { code: "storage_failed" } });
          let outcome: Outcome;
          const state: ConnState = { user: who, session: ADMIN_SESSION };
          // The session and the dedupe window, so a retried clientId is known even after a restart (I3).
          await this.load(state, { type: "send", clientId, n: 1, text: "" });
          if (action.type === "delete") {
            const lastN = this.core.sessionLastN(sessionKey(who.id, ADMIN_SESSION));
            const command: Command = { type: "delete", target: action.target, clientId, n: this.core.knows(who.id, clientId) ? lastN : lastN + 1 };
            outcome = this.core.handle(command, who, ADMIN_SESSION, await this.load(state, command));
          } else {
            outcome = this.core.system(action, who, clientId);
          }
          if (outcome.status === "rejected") return resolve({ ok: false, error: outcome.error });
          const ack = outcome.ack;
          if (outcome.status === "duplicate" && outcome.committed) return resolve({ ok: true, ack });
          const settle = (error?: unknown) => (error ? reject(error) : resolve({ ok: true, ack }));
          if (outcome.status === "accepted") this.counters.accepted++;
          this.pipeline.add({ accepted: outcome.status === "accepted" ? outcome : undefined, ack, settle }, outcome.status === "accepted" ? outcome.writes : []);
        } catch (error) {
          reject(error);
        }
      });
    });
  }

  /** For party/room-admin.ts: the room's live state, read-only. */
  get state() {
    return { core: this.core, bootId: this.bootId, accepted: this.counters.accepted, rejected: this.counters.rejected };
  }

  // ---- Helpers.

  private async ensureSession(userId: string, session: string): Promise<void> {
    const key = sessionKey(userId, session);
    if (!this.core.hasSession(key)) this.core.setSession(key, await this.room.storage.get<StoredSession>(key));
  }

  /** Loads the inbox link once the room's id and origin are known (never in alarms: see room-inbox-link.ts). */
  private linkReady: Promise<void> = Promise.resolve();
  private ensureLink(request: Request): void {
    const origin = new URL(request.url).origin;
    this.linkReady = this.link.ensure(this.room.id, origin).catch((error) => console.error("loading the inbox link failed", error));
  }

  private sendAcks(conn: Replier, acks: Ack[]): void {
    if (conn instanceof ItemReply) for (const ack of acks) conn.resolve({ ack });
    else safeSend(conn, JSON.stringify({ type: "ack", acks } satisfies ServerFrame));
  }

  /** Drop this socket's queued frames and close it; the client reconnects and resends in order (4013). */
  private resync(conn: Replier): void {
    if (conn instanceof ItemReply) return; // the inbox answers its device with the error; it resends in order
    if (this.resyncing.has(conn.id)) return;
    this.resyncing.add(conn.id);
    this.resyncClosed++;
    this.closeSocket(conn, 4013, "resync_required");
  }

  /** Every close the room starts: the socket leaves presence now, not when (or if) its peer answers. */
  closeSocket(conn: Conn, code: number, reason: string): void {
    this.members.detach(conn);
    try {
      conn.close(code, reason);
    } catch {
      // already closed
    }
  }

  private enqueue(task: () => Promise<void>): void {
    this.queued++;
    this.tail = this.tail
      .then(task)
      .catch((error) => console.error("room task failed", error))
      .then(() => void this.queued--);
  }

  private reply(conn: Replier, frame: ErrorFrame): void {
    const count = this.counters.rejected[frame.code] ?? 0;
    this.counters.rejected[frame.code] = count + 1;
    this.reporter.touch();
    if (conn instanceof ItemReply) conn.resolve({ error: frame });
    else safeSend(conn, JSON.stringify(frame));
  }

  private refuse(conn: Conn, frame: ErrorFrame, closeCode: number): void {
    safeSend(conn, JSON.stringify(frame));
    this.closeSocket(conn, closeCode, frame.code);
  }
}

export type RoomStats = ReturnType<RoomServer["stats"]>;

type StoredSettings = Partial<RoomSettings>;
/** The command session operator deletes from the admin API run in (I4 numbering per operator). */
const ADMIN_SESSION = "_admin";

/** One repair step of several: a throw is logged, not propagated, so the steps after it still run. */
function guarded(what: string, step: () => void): void {
  try {
    step();
  } catch (error) {
    console.error(`${what} failed`, error);
  }
}
