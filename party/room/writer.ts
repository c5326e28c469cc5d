/**
 * The room's writer: everything between "accepted" and "everyone heard of it". It owns the commit pipeline
 * (group commit, one write in flight, PROTOCOL R2), releases a durable batch (acks, then one broadcast),
 * and repairs after a failed write (PROTOCOL R3) or a failed release (PROTOCOL R3a). Parts that decide commands hand it
 * `Pending` items; nobody else touches the pipeline.
 */
import type * as Party from "partykit/server";
import { CLOSE, LIMITS, type Ack, type ErrorFrame } from "../protocol/index.ts";
import type { KaiwaConfig } from "../config.ts";
import { errorFrame } from "../protocol/error-frame.ts";
import { CommitPipeline } from "../core/commit-pipeline.ts";
import type { Accepted, RoomCore } from "../core/room-core.ts";
import type { Histogram } from "../core/histogram.ts";
import { persistWrites, type WriteCounters } from "../adapters/storage-writer.ts";
import type { RoomArchive } from "../archive/outbox.ts";
import type { RoomInboxLink } from "./inbox-link.ts";
import type { RoomMembers } from "./members.ts";
import type { RoomLogReader } from "./log-reader.ts";
import { eventsFrame } from "../protocol/frames-out.ts";
import { WriteWatch } from "./write-watch.ts";
import { faultyRelease, faultyWrite, type ReleaseSteps, type WriteSteps } from "./write-faults.ts";
import { extrasJson } from "./reader-extras.ts";
import { acceptedOf, ackOf, type CommandCounters, type Conn, type ConnState, type Pending, type Reply } from "./types.ts";

/** What the writer needs from the rest of the room. */
export interface WriterHost {
  readonly room: Pick<Party.Room, "storage" | "getConnections">;
  readonly config: KaiwaConfig;
  /** Armed with each write, told of each durable batch (PROTOCOL I9, IB3). */
  readonly link: Pick<RoomInboxLink, "armAlarm" | "committed">;
  readonly members: Pick<RoomMembers, "readsCommitted" | "cutOff" | "writeFailed">;
  /** Its drain armed with each write (PROTOCOL I9). */
  readonly archive: Pick<RoomArchive, "armDrain">;
  /** The HTTP read path's caches (PROTOCOL R42): told of committed edits and deletions. */
  readonly log: Pick<RoomLogReader, "committed">;
  readonly ackLatency: Pick<Histogram, "observe">;
  readonly counters: CommandCounters;
  core(): RoomCore;
  /** The canonical room id (the archive keys rows by it). */
  roomId(): string;
  /** One frame to every socket but `skip`, through the catch-up buffers of sockets still joining (PROTOCOL I5). */
  broadcast(frame: string, skip?: Set<string>): void;
  closeSocket(conn: Conn, code: number, reason: string): void;
  /** A typed error to one command's reply, counted in stats. */
  reply(reply: Reply, frame: ErrorFrame): void;
  /** Rebuild the room's state from storage in task order, once the pipeline is idle; then call `repaired`. */
  reload(): void;
  /** A batch was released: the directory hears of the room's new stats. */
  touched(): void;
  /** A durable batch deleted messages that carried files: their removal jobs may run now (PROTOCOL R33). */
  filesFreed(): void;
  enqueue(task: () => Promise<void>): void;
}

export class RoomWriter {
  private readonly pipeline: CommitPipeline<Pending>;
  /** After a failed write or a release that threw before the state took its batch, until the reload. */
  private brokenFlag = false;
  /**
   * Sockets closed to resync (a failed write or release, a failed load): their frames still queued are
   * dropped so a resend keeps order (PROTOCOL I4). An id leaves once its socket closed and those frames are gone.
   */
  private readonly resyncing = new Set<string>();
  private resyncClosed = 0;
  /** Whether the room's state took the batch being released (see release, releaseFailed). */
  private stateTaken = true;
  /** A batch's release (PROTOCOL R2.4): with test mode's faults installed, or without (room/write-faults.ts). */
  private readonly release: (items: Pending[]) => void;
  /** The write in flight: its age in stats, given up once it stalls (PROTOCOL R3b). */
  private readonly watch: WriteWatch;
  private readonly writeCounters: WriteCounters = { puts: 0, keys: 0 };
  /** Items per socket in the pipeline (collecting or being written); an entry goes when it reaches 0. */
  private readonly pendingBySocket = new Map<string, number>();

  constructor(private readonly host: WriterHost) {
    const { room, config } = host;
    this.watch = new WriteWatch(config.test.writeStallMs || LIMITS.writeStallMs, (after) => {
      console.error(
        `room ${host.roomId()}: a write has not settled for ${after} ms; giving it up (PROTOCOL R3b): ` +
          "its commands get storage_failed and their sockets resync",
      );
      this.pipeline.abandon(new Error(`write stalled for ${after} ms`));
    });
    const write: WriteSteps<Map<string, unknown>> = {
      // Same turn as the puts (one implicit transaction): a crash after this write still notifies
      // inboxes and still drains to the archive (PROTOCOL I9), even if the room never runs again until its alarm.
      begin: () => {
        host.link.armAlarm();
        host.archive.armDrain(host.roomId());
        this.watch.started();
      },
      store: (writes) => persistWrites(room.storage, writes, this.writeCounters),
    };
    const release: ReleaseSteps<Pending, Accepted[]> = {
      take: (items) => this.takeBatch(items),
      answer: (items, accepted) => this.answerBatch(items, accepted),
    };
    // Test mode's faults are installed here, once: outside it no switch is read per write or release.
    const test = config.test.mode ? config.test : undefined;
    this.release = test ? faultyRelease(test, release) : (items) => release.answer(items, release.take(items));
    this.pipeline = new CommitPipeline<Pending>(
      {
        persist: test
          ? faultyWrite(test, write)
          : (writes) => {
              write.begin();
              return write.store(writes);
            },
        schedule: (fn, ms) => void setTimeout(fn, ms),
        committed: (items) => {
          this.watch.ended();
          this.settled(items);
          // If a step of the release throws, releaseFailed learns from `stateTaken` which one it has to repair.
          this.stateTaken = false;
          this.release(items);
        },
        failed: (items, error) => {
          this.watch.ended();
          this.settled(items);
          this.writeFailed(items, error);
        },
        releaseFailed: (items, error) => this.releaseFailed(items, error),
      },
      config.room.flushWindowMs,
      LIMITS.maxCommandsPerFlush,
    );
  }

  get broken(): boolean {
    return this.brokenFlag;
  }

  /** Commands collecting or a write in flight: decided state not yet durable. */
  get busy(): boolean {
    return this.pipeline.busy;
  }

  /** Into the group commit: durable before anyone hears of it (PROTOCOL I2). */
  add(item: Pending, writes: Array<[string, unknown]>): void {
    if (item.kind !== "admin" && item.reply.flowControlled) this.pendingBySocket.set(item.reply.id, (this.pendingBySocket.get(item.reply.id) ?? 0) + 1);
    this.pipeline.add(item, writes);
  }

  /** Commands and reads of this socket waiting for the durable write (PROTOCOL R18 bounds it). */
  pendingOf(id: string): number {
    return this.pendingBySocket.get(id) ?? 0;
  }

  /** Resolves once nothing is collecting or in flight (a reload must not read under a write). */
  idle(): Promise<void> {
    return this.pipeline.idle();
  }

  /** The reload after a failure finished: commands are decided again. */
  repaired(): void {
    this.brokenFlag = false;
  }

  isResyncing(id: string): boolean {
    return this.resyncing.has(id);
  }

  /** A socket closed: its id leaves `resyncing` by a task queued behind its frames (none comes after this). */
  socketClosed(id: string): void {
    if (this.resyncing.has(id)) this.host.enqueue(async () => void this.resyncing.delete(id));
  }

  /** Drop this socket's queued frames and close it; the client reconnects and resends in order (4013). */
  resync(reply: Reply): void {
    reply.cutOff(CLOSE.resyncRequired, "resync_required");
  }

  /**
   * Closes a socket whose later frames must not be decided (a resync, a rate limit, an expired token): its
   * frames still queued in the room are dropped, so the client's resend from its first unacked command
   * keeps the order (PROTOCOL I4).
   */
  cutOff(socket: Conn, code: number, reason: string): void {
    if (this.resyncing.has(socket.id)) return;
    this.resyncing.add(socket.id);
    this.resyncClosed++;
    this.host.closeSocket(socket, code, reason);
  }

  /** Items of a settled batch leave the per-socket counts. */
  private settled(items: Pending[]): void {
    for (const item of items) {
      if (item.kind === "admin" || !item.reply.flowControlled) continue;
      const left = (this.pendingBySocket.get(item.reply.id) ?? 1) - 1;
      if (left > 0) this.pendingBySocket.set(item.reply.id, left);
      else this.pendingBySocket.delete(item.reply.id);
    }
  }

  stats() {
    return {
      writes: { ...this.writeCounters, flushes: this.pipeline.counters.flushes, batchedItems: this.pipeline.counters.items },
      collecting: this.pipeline.pending,
      writeInFlightMs: this.watch.inFlightMs,
      broken: this.brokenFlag,
      resyncClosed: this.resyncClosed,
      stalls: this.watch.stalls,
    };
  }

  /** A durable batch, first step: the room's state takes it (PROTOCOL R2.4). */
  private takeBatch(items: Pending[]): Accepted[] {
    const { host } = this;
    const accepted = items.flatMap((item) => acceptedOf(item) ?? []);
    host.core().commit(accepted);
    host.log.committed(accepted);
    const reads = items.flatMap((item) => (item.kind === "read" ? [{ user: item.user, seq: item.seq }] : []));
    host.members.readsCommitted(reads);
    host.link.committed(
      accepted.map((a) => ({ event: a.event, json: a.eventJson, ...(a.targetAfter ? { targetBefore: a.targetAfter } : {}) })),
      reads,
    );
    this.stateTaken = true;
    // Only now: a removal that ran before the deletion was durable could take a file a failed write left in place.
    if (accepted.some((a) => a.freed)) host.filesFreed();
    return accepted;
  }

  /** Then its acks go out, then one broadcast (PROTOCOL R2.4). */
  private answerBatch(items: Pending[], accepted: Accepted[]): void {
    const { host } = this;
    const acksByReply = new Map<string, { reply: Reply; acks: Ack[] }>();
    const now = Date.now();
    for (const item of items) {
      if (item.kind === "admin") {
        item.settle();
        continue;
      }
      if (item.kind === "read") {
        item.reply.read(item.user, item.seq, item.requestId);
        continue;
      }
      if (item.kind === "command") host.ackLatency.observe(now - item.at);
      const ack = ackOf(item);
      const entry = acksByReply.get(item.reply.id);
      if (entry) entry.acks.push(ack);
      else acksByReply.set(item.reply.id, { reply: item.reply, acks: [ack] });
    }
    for (const { reply, acks } of acksByReply.values()) reply.acks(acks);
    if (accepted.length === 0) return;
    host.touched();
    const cutOff = host.members.cutOff(accepted);
    // Serialised once, the same string to every socket (but those just cut off).
    // PROTOCOL R22: replies in the batch carry their parents' quotes beside the events.
    const quoted = accepted.filter((a) => a.quote);
    const quotes = quoted.length > 0 ? extrasJson({ quotes: Object.fromEntries(quoted.map((a) => [String(a.quote!.seq), a.quote!])) }) : "";
    host.broadcast(eventsFrame(accepted.map((a) => a.eventJson), false, quotes), cutOff);
  }

  /**
   * The batch is durable, but `release` threw part way (PROTOCOL R3a), so some sockets may lack its acks or
   * events. Rather than guess which, every socket resyncs (4013): each client resumes gaplessly from its
   * last seq (PROTOCOL I5) and resends what is unacked, which dedupe answers with the stored acks (PROTOCOL I3). HTTP
   * callers (admin actions, inbox devices) are answered here. If the throw came before the room's state
   * had taken the batch, that state cannot be trusted (its committed seq, edit overlay, read and inbox
   * bookkeeping may be part-updated, and `core.commit` cannot be re-run): the room reloads it from
   * storage, as after a failed write, once what collected behind the batch is written too.
   */
  private releaseFailed(items: Pending[], error: unknown): void {
    console.error("releasing a committed batch failed; every socket resyncs", error);
    this.host.counters.releaseFailures++;
    for (const item of items) {
      if (item.kind === "admin") item.settle();
      else item.reply.releaseFailed(item);
    }
    const accepted = items.flatMap((item) => acceptedOf(item) ?? []);
    if (!this.stateTaken) {
      this.brokenFlag = true;
      this.host.members.writeFailed();
      this.host.reload();
    } else if (accepted.length > 0) {
      // Members removed in this batch still get its events up to their removal, then 4004 (not 4013).
      // Guarded, so one more throw does not skip the resync below. (The archive drain was armed with the write.)
      try {
        this.host.members.cutOff(accepted);
      } catch (cutError) {
        console.error("cutting off removed members failed", cutError);
      }
    }
    for (const conn of this.host.room.getConnections<ConnState>()) this.cutOff(conn, CLOSE.resyncRequired, "resync_required");
  }

  private writeFailed(items: Pending[], error: unknown): void {
    console.error("room write failed; rejecting the batch and reloading state", error);
    this.host.counters.storageFailures++;
    this.brokenFlag = true;
    this.host.members.writeFailed();
    for (const item of items) {
      if (item.kind === "admin") {
        item.settle(error);
        continue;
      }
      const ref = item.kind === "command" ? item.accepted.ack.clientId : item.kind === "resend" ? item.ack.clientId : undefined;
      this.host.reply(item.reply, errorFrame("storage_failed", ref ? { ref } : {}));
      // The session's later frames were sequenced on the failed state: close so the client resends in order.
      this.resync(item.reply);
    }
    this.host.reload();
  }
}
