/**
 * The room's members-facing part: read positions (PROTOCOL I6) over sockets and HTTP, typing, presence and the
 * welcome's members block, and cutting off users who stop being members. Receipts, presence and typing go
 * out batched through RoomSignals (never one broadcast per member per change).
 */
import type * as Party from "partykit/server";
import { CLOSE, LIMITS, roomKind, type ErrorFrame, type Identity } from "../protocol/index.ts";
import { errorFrame } from "../protocol/error-frame.ts";
import { RoomSignals } from "../core/room-signals.ts";
import { SocketIndex, type SocketEntry } from "../core/socket-index.ts";
import type { Accepted, RoomCore } from "../core/room-core.ts";
import type { Rejection } from "../core/rejection.ts";
import { readMarkRefusal, typingRefusal } from "../core/access.ts";
import type { RoomInboxLink } from "./inbox-link.ts";
import { readKey } from "../core/room-keys.ts";
import { eventsFrame } from "../protocol/frames-out.ts";
import { safeSend } from "../adapters/sockets.ts";
import type { Conn, ConnState, Pending, Reply } from "./types.ts";

/** What the room shell lends this part. */
export interface MembersHost {
  readonly room: Party.Room;
  readonly link: RoomInboxLink;
  core(): RoomCore;
  /** The decoded room id (its kind says whether users post here at all: notices rooms, PROTOCOL R63). */
  roomId(): string;
  linkReady(): Promise<void>;
  isBroken(): boolean;
  reply(reply: Reply, frame: ErrorFrame): void;
  refuse(conn: Conn, frame: ErrorFrame, closeCode: number): void;
  /** Into the group commit: durable before anyone hears of it (PROTOCOL I2). */
  queue(item: Pending, writes: Array<[string, unknown]>): void;
  broadcast(frame: string): void;
  /**
   * A live room's relays (PROTOCOL R52): whether viewers sit on relays (the room cannot name them), and how
   * many they hold.
   */
  relayed(): { sharded: boolean; viewers: number };
}

export class RoomMembers {
  readonly signals: RoomSignals;
  /** Who holds which socket: presence and PROTOCOL R13 without scanning every socket. */
  private readonly sockets = new SocketIndex();
  /** Sockets the room closed and already took out of the index; their onClose is still to come. */
  private readonly detached = new Set<string>();
  /** Highest read position queued per member, so a stale read never overwrites a newer one in a batch. */
  private readonly queuedReads = new Map<string, number>();

  constructor(private readonly host: MembersHost) {
    this.signals = new RoomSignals(
      {
        now: Date.now,
        schedule: (fn, ms) => void setTimeout(fn, ms),
        broadcast: (frame) => host.broadcast(frame),
        // The whole stream's audience: the room's own sockets and the viewers its relays hold (PROTOCOL R52).
        connections: () => this.sockets.size + host.relayed().viewers,
        isPresent: (user) => this.sockets.isPresent(user),
        presentCount: () => this.sockets.presentCount,
        presentUsers: () => this.sockets.presentUsers(),
        // Groups (`g:` rooms, membership loaded at start) name everyone; a DM has two members, never a crowd.
        alwaysNames: () => host.core().membership !== undefined,
        countOnly: () => host.relayed().sharded,
      },
      LIMITS.signalWindowMs,
      LIMITS.typingTtlMs,
      LIMITS.presenceListMaxUsers,
      LIMITS.audienceCountMs,
    );
  }

  /**
   * An admitted socket opened (observers never count as presence). Returns the id of the socket it
   * replaces in its session (PROTOCOL R13), which the room closes.
   */
  opened(conn: Conn): string | undefined {
    const state = conn.state;
    if (!state) return undefined;
    const { joined, replaces } = this.sockets.add(conn.id, socketEntry(state));
    if (joined) this.signals.join(state.user.id);
    return replaces;
  }

  /** Admitted sockets still open (observers included). */
  get openSockets(): number {
    return this.sockets.size;
  }

  /** Whether an open socket holds this session (key: the core's `sessionKey`). */
  holdsSession(key: string): boolean {
    return this.sockets.holdsSession(key);
  }

  /**
   * Whether admitting this socket would give its user more than `maxSocketsPerUser` sockets in the room
   * (PROTOCOL §7.2): a socket replacing its own session's adds none (PROTOCOL R13), nor does an observer.
   * Without it one user could hold any number of sockets, each costing the room its entries and a send per
   * broadcast.
   */
  tooManySockets(entry: SocketEntry): boolean {
    return this.sockets.adds(entry) && this.sockets.socketsOf(entry.user) >= LIMITS.maxSocketsPerUser;
  }

  /**
   * The room is closing this socket (PROTOCOL R13 replacement, resync, refusal, ban): it stops counting now. A
   * half-open peer never answers the close, so its onClose can be minutes away.
   */
  detach(conn: Conn): void {
    const { left, user } = this.sockets.remove(conn.id);
    if (user === undefined) return; // never admitted
    this.detached.add(conn.id);
    // A socket that ends in an error gets no close event to take it out again: drop the ids of sockets that
    // are gone once the set outgrows the open ones (PROTOCOL §7).
    if (this.detached.size > 2 * this.sockets.size + 1_000) for (const id of this.detached) if (!this.host.room.getConnection(id)) this.detached.delete(id);
    if (left) this.signals.leave(user);
  }

  closed(conn: Conn): void {
    if (this.detached.delete(conn.id)) return; // already taken out when the room closed it
    const { left, user } = this.sockets.remove(conn.id);
    if (left && user !== undefined) return this.signals.leave(user);
    // Closed while the room hibernated: never indexed in this memory, but its user may have just left.
    const state = conn.state;
    if (user === undefined && state && !state.observer && !this.sockets.isPresent(state.user.id)) this.signals.leave(state.user.id);
  }

  /** After a wake from hibernation the sockets are still open but this memory is new: index them again. */
  reindex(): void {
    for (const conn of this.host.room.getConnections<ConnState>()) if (conn.state) this.sockets.add(conn.id, socketEntry(conn.state));
  }

  /** Committed reads: answer the reader's socket at once, everyone else in the next receipts frame. */
  readsCommitted(reads: Array<{ user: string; seq: number }>): void {
    for (const read of reads) this.signals.read(read.user, read.seq);
    for (const { user, seq } of reads) if (this.queuedReads.get(user) === seq) this.queuedReads.delete(user);
  }

  /** A failed write reloads the room: queued reads are gone with it. */
  writeFailed(): void {
    this.queuedReads.clear();
  }

  /** A member's read over their room socket: answered with their own receipt, others hear it batched. */
  async readOverSocket(reply: Reply, who: Identity, seq: number, requestId: string | undefined): Promise<void> {
    await this.host.linkReady();
    const refused = this.checkRead(who, seq);
    if (refused) return this.host.reply(reply, errorFrame(refused.code, { ...refused, ...(requestId ? { ref: requestId } : {}) }));
    if (this.needsReadWrite(who, seq)) return this.queueRead(reply, who, seq, requestId);
    reply.read(who.id, this.host.link.snapshot(who.id).readSeq, requestId);
  }

  /** PROTOCOL I6: members only, never past the committed seq (core/access.ts). */
  checkRead(who: Identity, seq: number): Rejection | undefined {
    const { link } = this.host;
    return readMarkRefusal({ recipients: { has: (user) => link.isMember(user) }, committedSeq: this.host.core().committedSeq }, who, seq);
  }

  /** Only forward moves are written (PROTOCOL I6); a stale read is answered with the current position. */
  needsReadWrite(who: Identity, seq: number): boolean {
    return this.host.isBroken() || seq > Math.max(this.host.link.snapshot(who.id).readSeq, this.queuedReads.get(who.id) ?? 0);
  }

  queueRead(reply: Reply, who: Identity, seq: number, requestId?: string): void {
    if (this.host.isBroken()) return this.host.reply(reply, errorFrame("storage_failed", requestId ? { ref: requestId } : {}));
    this.queuedReads.set(who.id, seq);
    this.host.queue({ kind: "read", reply, user: who.id, seq, ...(requestId ? { requestId } : {}) }, [[readKey(who.id), seq]]);
  }

  /** "X is typing": members who may post only; never stored, batched out, expires by itself. */
  typing(reply: Reply, who: Identity): void {
    const refused = this.typingRefusal(who);
    if (refused) return this.host.reply(reply, refused);
    this.signals.typing(who.id);
  }

  /** Why `who` may not show as typing, here or in an awareness state (PROTOCOL R74), or nothing. */
  typingRefusal(who: Identity): ErrorFrame | undefined {
    const { link } = this.host;
    const core = this.host.core();
    const recipients = link.active ? { has: (user: string) => link.isMember(user) } : undefined;
    const refused = typingRefusal({ kind: roomKind(this.host.roomId()), group: core.membership, recipients, whoMayPost: core.settings.whoMayPost, restrictions: core.moderation, hosts: core.settings.hosts }, who, Date.now());
    return refused ? errorFrame(refused.code, refused) : undefined;
  }

  async block() {
    const membership = this.host.core().membership;
    return {
      kind: membership ? ("group" as const) : roomKind(this.host.roomId()) === "notices" ? ("notices" as const) : ("dm" as const),
      title: membership?.name ?? "",
      list: membership ? membership.list() : this.host.link.members.map((id) => ({ id, role: "member" as const })),
      reads: this.host.link.readPositions(),
      present: this.sockets.presentUsers(),
      typing: this.signals.typingNow(),
    };
  }

  /**
   * After membership events: a removed member hears the events up to their removal, never one after, and
   * their sockets close (4004); sockets of users who are not members once a group is created close too.
   * Returns the closed socket ids, which the batch's broadcast skips.
   */
  cutOff(accepted: Accepted[]): Set<string> {
    const closed = new Set<string>();
    const membership = this.host.core().membership;
    if (!membership || !accepted.some((a) => a.event.kind === "group" || a.event.kind === "member")) return closed;
    const removedAt = new Map<string, number>();
    for (const a of accepted) for (const user of a.removed ?? []) if (!removedAt.has(user)) removedAt.set(user, a.event.seq);
    for (const conn of this.host.room.getConnections<ConnState>()) {
      const user = conn.state?.user.id;
      if (!user || membership.has(user) || conn.state?.observer) continue;
      const until = removedAt.get(user);
      if (until !== undefined) safeSend(conn, eventsFrame(accepted.filter((a) => a.event.seq <= until).map((a) => a.eventJson)));
      closed.add(conn.id);
      this.host.refuse(conn, errorFrame("not_member", { message: "You are not a member of this group." }), CLOSE.notMember);
    }
    return closed;
  }
}

function socketEntry(state: ConnState): SocketEntry {
  return { user: state.user.id, session: state.session, observer: state.observer === true };
}
