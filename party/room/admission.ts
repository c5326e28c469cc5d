/**
 * Admission and replay: who may open a socket on this room (PROTOCOL §2.3), the welcome, and the resume
 * replay (PROTOCOL R6, R7). It owns the catch-up buffers: from admission until its join finishes, every live frame
 * for a socket waits here, so the socket sees welcome, replay, then live events in order (PROTOCOL I5).
 */
import type * as Party from "partykit/server";
import { CLOSE, ConnectQuery, LIMITS, type ErrorFrame, type Identity, type WelcomeFrame } from "../protocol/index.ts";
import { errorFrame } from "../protocol/error-frame.ts";
import type { RoomCore } from "../core/room-core.ts";
import type { KaiwaConfig } from "../config.ts";
import { sessionKey } from "../core/room-keys.ts";
import { decideResume } from "../core/resume.ts";
import { socketRefusal } from "../core/access.ts";
import { readEventsJson } from "../adapters/event-log.ts";
import { safeSend } from "../adapters/sockets.ts";
import { identityFrom, tokenExpiresAt } from "../adapters/auth.ts";
import type { RoomArchive } from "../archive/outbox.ts";
import type { RoomInboxLink } from "./inbox-link.ts";
import type { RoomMembers } from "./members.ts";
import type { RoomCommands } from "./commands.ts";
import { extrasJson, readerExtras } from "./reader-extras.ts";
import { relayIdentity, type RoomRelays } from "./relays.ts";
import { eventsFrame } from "../protocol/frames-out.ts";
import type { TokenExpiry } from "../adapters/token-expiry.ts";
import type { Conn, ConnState } from "./types.ts";

/** What admission needs from the rest of the room: only the parts' calls it makes. */
export interface AdmissionHost {
  readonly room: Pick<Party.Room, "id" | "storage" | "getConnection" | "getConnections">;
  readonly config: { readonly test: Pick<KaiwaConfig["test"], "catchUpMaxBytes">; readonly room: Pick<KaiwaConfig["room"], "resumeMaxEvents"> };
  readonly bootId: string;
  readonly members: Pick<RoomMembers, "tooManySockets" | "opened" | "block">;
  /** Who joined (search, PROTOCOL R14a), how far back replay reaches, and records for the reader's extras. */
  readonly archive: Pick<RoomArchive, "noteMember" | "replayable" | "records">;
  readonly link: Pick<RoomInboxLink, "active">;
  readonly commands: Pick<RoomCommands, "ensureSession">;
  readonly expiry: Pick<TokenExpiry<ConnState>, "watch">;
  readonly relays: Pick<RoomRelays, "admitRelay" | "redirect" | "greet">;
  /** Sends a socket that finished joining every current awareness state (PROTOCOL R73). */
  joined(conn: Conn): void;
  core(): RoomCore;
  /** The canonical room id (the archive keys members by it). */
  roomId(): string;
  linkReady(): Promise<void>;
  /** Loads the inbox link once the room's origin is known (from a request). */
  ensureLink(request: Request): void;
  enqueue(task: () => Promise<void>): void;
  refuse(conn: Conn, frame: ErrorFrame, closeCode: number): void;
  closeSocket(conn: Conn, code: number, reason: string): void;
  /** The directory hears of the room's new connection count. */
  touched(): void;
}

export class RoomAdmission {
  /**
   * Connections still receiving their resume replay: live frames wait here so order holds (PROTOCOL I5), at
   * most `catchUpMaxBytes` per socket (a socket that falls that far behind during its own join resyncs).
   */
  private readonly catchingUp = new Map<string, { frames: string[]; bytes: number }>();

  /** PROTOCOL R82: `catchUpMaxBytes`, or what a test switch sets. */
  private readonly catchUpMaxBytes: number;

  constructor(private readonly host: AdmissionHost) {
    this.catchUpMaxBytes = host.config.test.catchUpMaxBytes || LIMITS.catchUpMaxBytes;
  }

  /** A new socket: refused with a typed frame and close code, or admitted and queued to join in task order. */
  connect(conn: Conn, request: Request): void {
    const { host } = this;
    const relay = host.relays.admitRelay(conn, request);
    if (relay === "refused") return;
    if (relay) return this.admitRelay(conn, request, relay.shard);
    const who = identityFrom(request);
    if (!who) return host.refuse(conn, errorFrame("unauthorized"), CLOSE.unauthorized);
    const query = ConnectQuery.safeParse(Object.fromEntries(new URL(request.url).searchParams));
    if (!query.success) return host.refuse(conn, errorFrame("bad_frame", { message: "Connect with ?session=<id>[&epoch=&lastSeq=]." }), CLOSE.protocolViolation);
    const observing = query.data.observe === "1";
    const core = host.core();
    const refused = socketRefusal({ rawId: host.room.id, group: core.membership, restrictions: core.moderation }, who, observing, Date.now());
    if (refused) {
      const { code, close, ...extra } = refused;
      return host.refuse(conn, errorFrame(code, extra), close);
    }
    // A sharded live room's viewers belong on their relay (PROTOCOL R51).
    if (host.relays.redirect(conn, who, observing)) return;
    const session = query.data.session;
    if (host.members.tooManySockets({ user: who.id, session, observer: observing })) {
      const message = `At most ${LIMITS.maxSocketsPerUser} sockets of one user may be open in a room; close one or try again later.`;
      return host.refuse(conn, errorFrame("rate_limited", { message, retryAfterMs: LIMITS.socketsRetryAfterMs }), CLOSE.rateLimited);
    }
    const exp = tokenExpiresAt(request);
    conn.setState({ user: who, session, ...(observing ? { observer: true as const } : {}), ...(exp !== undefined ? { exp } : {}) });
    host.expiry.watch(conn);
    host.touched();
    // One socket per device session: a reconnect replaces a half-open predecessor (PROTOCOL R13).
    const replaced = host.members.opened(conn);
    const predecessor = replaced === undefined ? undefined : host.room.getConnection<ConnState>(replaced);
    if (predecessor) host.closeSocket(predecessor, CLOSE.sessionReplaced, "session_replaced");
    this.catchingUp.set(conn.id, { frames: [], bytes: 0 });
    const replayUntil = host.core().committedSeq; // everything after this reaches the buffer (I5)
    host.ensureLink(request);
    host.enqueue(() => this.join(conn, who, query.data, replayUntil));
  }

  /**
   * The room's own relay (PROTOCOL R52): joins like any socket (welcome, gapless replay from its position,
   * then live), marked as an observer so it is no member, no presence, and no user's socket.
   */
  private admitRelay(conn: Conn, request: Request, shard: number): void {
    const { host } = this;
    const query = ConnectQuery.safeParse(Object.fromEntries(new URL(request.url).searchParams));
    if (!query.success) return host.refuse(conn, errorFrame("bad_frame", { message: "Connect with ?session=<id>[&epoch=&lastSeq=]." }), CLOSE.protocolViolation);
    const who = relayIdentity(shard);
    conn.setState({ user: who, session: query.data.session, observer: true, relay: shard });
    host.touched();
    this.catchingUp.set(conn.id, { frames: [], bytes: 0 });
    const replayUntil = host.core().committedSeq;
    host.ensureLink(request);
    host.enqueue(() => this.join(conn, who, query.data, replayUntil));
  }

  /** A live frame to every socket but `skip`; sockets still receiving their replay get it after (PROTOCOL I5). */
  broadcast(frame: string, skip?: Set<string>): void {
    for (const conn of this.host.room.getConnections()) {
      if (skip?.has(conn.id)) continue;
      const buffer = this.catchingUp.get(conn.id);
      if (!buffer) safeSend(conn, frame);
      else if ((buffer.bytes += frame.length) <= this.catchUpMaxBytes) buffer.frames.push(frame);
      else {
        this.catchingUp.delete(conn.id);
        this.host.closeSocket(conn as Conn, CLOSE.resyncRequired, "resync_required");
      }
    }
  }

  /** Whether the socket is still receiving its welcome and replay. */
  joining(connId: string): boolean {
    return this.catchingUp.has(connId);
  }

  /** The socket closed or failed: its buffer goes. */
  forget(connId: string): void {
    this.catchingUp.delete(connId);
  }

  private async join(conn: Conn, who: Identity, query: ConnectQuery, replayUntil: number): Promise<void> {
    try {
      await this.welcome(conn, who, query, replayUntil);
    } catch (error) {
      // Without a welcome the client would wait for one until its heartbeat gave up: make it retry now.
      console.error("join failed", error);
      this.catchingUp.delete(conn.id);
      this.host.closeSocket(conn, CLOSE.internalError, "join_failed");
    }
  }

  private async welcome(conn: Conn, who: Identity, query: ConnectQuery, replayUntil: number): Promise<void> {
    const { host } = this;
    try {
      await host.commands.ensureSession(who.id, query.session);
      await host.linkReady();
      const core = host.core();
      // Observers (operators watching) are not members: search must not open the room to them. A group's
      // members for search come from its events alone (PROTOCOL R14a): a join there records nothing, even
      // before the group is created (anyone may open the socket the creator needs).
      if (!conn.state?.observer && !core.membership) await host.archive.noteMember(host.roomId(), who.id, Date.now());
      // Replay reaches back only as far as the room still stores events (older ones were archived and pruned).
      const resumeMaxEvents = host.archive.replayable(host.config.room.resumeMaxEvents, replayUntil);
      const resume =
        query.epoch !== undefined && query.lastSeq !== undefined
          ? decideResume({ epoch: core.epoch, committedSeq: replayUntil, resumeMaxEvents }, { epoch: query.epoch, lastSeq: query.lastSeq })
          : null;
      const welcome = {
        type: "welcome",
        room: host.room.id,
        epoch: core.epoch,
        lastSeq: replayUntil,
        bootId: host.bootId,
        user: who,
        sessionLastN: core.sessionLastN(sessionKey(who.id, query.session)),
        accepts: ["batch"],
        window: LIMITS.socketWindow, // PROTOCOL R84
        resume,
        serverTime: Date.now(),
        pins: core.pins.committed(),
        ...(core.isHost(who.id) ? { host: true as const } : {}), // PROTOCOL R50: its client may show it typing
        ...(host.link.active ? { members: await host.members.block() } : {}),
      } satisfies WelcomeFrame;
      safeSend(conn, JSON.stringify(welcome));
      if (conn.state?.relay !== undefined) host.relays.greet(conn);
      if (resume?.recovered) {
        for (let from = query.lastSeq! + 1; from <= replayUntil; from += LIMITS.replayChunkEvents) {
          const before = Math.min(from + LIMITS.replayChunkEvents, replayUntil + 1);
          const chunk = await readEventsJson(host.room.storage, core, from, before);
          // PROTOCOL R20, R22: the joining user's own reactions and the current quotes, beside the records.
          safeSend(conn, eventsFrame(chunk, true, extrasJson(await readerExtras(host.room.storage, host.archive, who.id, chunk))));
        }
      }
    } finally {
      const joined = this.catchingUp.has(conn.id);
      for (const frame of this.catchingUp.get(conn.id)?.frames ?? []) safeSend(conn, frame);
      this.catchingUp.delete(conn.id);
      if (joined) host.joined(conn);
    }
  }
}
