/**
 * Deciding commands: from a socket frame, an inbox's HTTP batch or the admin API, each is decided by the
 * core in arrival order (PROTOCOL I4) and handed to the writer; nothing is answered before it is durable (PROTOCOL I2).
 * The fast path decides at once when nothing is queued and nothing must be loaded; otherwise the command
 * waits in the room's task queue behind earlier ones.
 */
import type * as Party from "partykit/server";
import { CLOSE, LIMITS, type Command, type Identity, type ErrorFrame, type RoomEvent } from "../protocol/index.ts";
import { errorFrame } from "../protocol/error-frame.ts";
import type { Outcome, RoomCore } from "../core/room-core.ts";
import { reactionKey, sessionKey, type StoredSession } from "../core/room-keys.ts";
import { readEvents } from "../adapters/event-log.ts";
import { farewellWrite } from "./inbox-link.ts";
import type { AdminAction, AdminResult } from "./admin.ts";
import type { RoomWriter } from "./writer.ts";
import type { RoomFlow } from "./flow.ts";
import type { CommandCounters, ConnState, Reply } from "./types.ts";

/** What deciding needs from the rest of the room. */
export interface CommandsHost {
  readonly room: Party.Room;
  readonly writer: RoomWriter;
  readonly flow: RoomFlow;
  readonly counters: CommandCounters;
  core(): RoomCore;
  /** Tasks queued or running in the room's task queue. */
  queued(): number;
  enqueue(task: () => Promise<void>): void;
  reply(reply: Reply, frame: ErrorFrame): void;
}

/** Who sent a command: the verified identity and the device session (connection state, or an inbox's item). */
type Sender = Pick<ConnState, "user" | "session">;

/** A socket over the pending bound comes back after about one write (PROTOCOL R18). */
const PENDING_RETRY_MS = 250;
/** The longest wait a rate limit names. */
const MAX_RETRY_AFTER_MS = 60_000;

/** The command session operator deletes from the admin API run in (PROTOCOL I4 numbering per operator). */
const ADMIN_SESSION = "_admin";

export class RoomCommands {
  constructor(private readonly host: CommandsHost) {}

  /**
   * Decides `command` now or queues it in arrival order. False when the sender was over a limit (PROTOCOL
   * PROTOCOL R18): the socket is closed, and nothing it sent after this command may be decided.
   */
  submit(reply: Reply, sender: Sender, command: Command): boolean {
    if (reply.socket) {
      // A resend of a decided command costs nothing: it is answered from the dedupe window (PROTOCOL I3).
      const core = this.host.core();
      const resend = core.dedupeLoaded && core.knows(sender.user.id, command.clientId);
      const wait = (resend ? 0 : this.host.flow.message(sender.user)) || (this.host.flow.overPending(this.host.writer.pendingOf(reply.id)) ? PENDING_RETRY_MS : 0);
      if (wait > 0) {
        this.throttle(reply, wait, command.clientId);
        return false;
      }
    }
    this.route(reply, sender, command);
    return true;
  }

  /**
   * Over a limit (PROTOCOL R18): a typed, retryable `rate_limited` naming the first command not decided, then
   * the socket closes (4029) and its queued frames are dropped, so the client's resend keeps the order.
   */
  throttle(reply: Reply, waitMs: number, ref: string | undefined): void {
    const retryAfterMs = Number.isFinite(waitMs) ? Math.min(waitMs, MAX_RETRY_AFTER_MS) : MAX_RETRY_AFTER_MS;
    this.host.reply(reply, errorFrame("rate_limited", { retryAfterMs, ...(ref ? { ref } : {}) }));
    if (reply.socket) this.host.writer.cutOff(reply.socket, CLOSE.rateLimited, "rate_limited");
  }

  private route(reply: Reply, sender: Sender, command: Command): void {
    const core = this.host.core();
    // Fast path: with nothing queued ahead and nothing to load, decide now (no promise per frame).
    const ready = this.host.queued() === 0 && core.dedupeLoaded && core.hasSession(sessionKey(sender.user.id, sender.session));
    if (ready && core.missingTargets(command).length === 0 && core.missingReactionSet(command, sender.user.id) === undefined) this.decide(reply, sender, command, []);
    else this.host.enqueue(() => this.loadAndDecide(reply, sender, command));
  }

  /** The session's stored state (PROTOCOL I4), loaded once per room start. */
  async ensureSession(userId: string, session: string): Promise<void> {
    const key = sessionKey(userId, session);
    const core = this.host.core();
    if (!core.hasSession(key)) core.setSession(key, await this.host.room.storage.get<StoredSession>(key));
  }

  /**
   * An operator action from the admin API (room/admin.ts), decided in the room's task order like a
   * socket's frame (PROTOCOL I4) and settled only once durable (PROTOCOL I2); clients see it in the broadcast like any event.
   */
  runAdmin(who: Identity, action: AdminAction, clientId: string): Promise<AdminResult> {
    return new Promise((resolve, reject) => {
      this.host.enqueue(async () => {
        try {
          if (this.host.writer.broken) return resolve({ ok: false, error: { code: "storage_failed" } });
          const sender: Sender = { user: who, session: ADMIN_SESSION };
          // The session and the dedupe window, so a retried clientId is known even after a restart (PROTOCOL I3).
          await this.load(sender, { type: "send", clientId, n: 1, text: "" });
          const core = this.host.core();
          let outcome: Outcome;
          if (action.type === "delete") {
            const lastN = core.sessionLastN(sessionKey(who.id, ADMIN_SESSION));
            const command: Command = { type: "delete", target: action.target, clientId, n: core.knows(who.id, clientId) ? lastN : lastN + 1 };
            outcome = core.handle(command, who, ADMIN_SESSION, await this.load(sender, command));
          } else {
            outcome = core.system(action, who, clientId);
          }
          if (outcome.status === "rejected") return resolve({ ok: false, error: outcome.error });
          const ack = outcome.ack;
          if (outcome.status === "duplicate" && outcome.committed) return resolve({ ok: true, ack });
          const settle = (error?: unknown) => (error ? reject(error) : resolve({ ok: true, ack }));
          if (outcome.status === "accepted") this.host.counters.accepted++;
          const accepted = outcome.status === "accepted" ? outcome : undefined;
          this.host.writer.add({ kind: "admin", accepted, ack, settle }, accepted ? accepted.writes : []);
        } catch (error) {
          reject(error);
        }
      });
    });
  }

  /** The slow path: load the session, the dedupe window or an edit's target, then decide in arrival order. */
  private async loadAndDecide(reply: Reply, sender: Sender, command: Command): Promise<void> {
    let loaded: RoomEvent[];
    try {
      loaded = await this.load(sender, command);
    } catch (error) {
      // A command left unanswered would let later ones from the same session overtake it (PROTOCOL I4).
      console.error("loading for a command failed", error);
      this.host.reply(reply, errorFrame("internal", { ref: command.clientId }));
      return this.host.writer.resync(reply);
    }
    this.decide(reply, sender, command, loaded);
  }

  /**
   * Loads what the core needs for `command`; returns the targets and parents it had to read (an edit's,
   * a reaction's, a reply's), and hands the core the sender's reaction set when a reaction needs it.
   */
  private async load(sender: Sender, command: Command): Promise<RoomEvent[]> {
    await this.ensureSession(sender.user.id, sender.session);
    const { storage } = this.host.room;
    const core = this.host.core();
    if (!core.dedupeLoaded) {
      const from = Math.max(1, core.committedSeq - LIMITS.dedupeWindow + 1);
      core.loadDedupe(await readEvents(storage, core, from, core.committedSeq + 1));
    }
    const reactedOn = core.missingReactionSet(command, sender.user.id);
    if (reactedOn !== undefined) core.setReactionSet(reactedOn, sender.user.id, await storage.get<string[]>(reactionKey(reactedOn, sender.user.id)));
    const loaded: RoomEvent[] = [];
    for (const seq of core.missingTargets(command)) loaded.push(...(await readEvents(storage, core, seq, seq + 1)));
    return loaded;
  }

  private decide(reply: Reply, sender: Sender, command: Command, loaded: RoomEvent[]): void {
    const { writer } = this.host;
    if (writer.isResyncing(reply.id)) return;
    if (writer.broken) {
      // Later frames of this socket would be decided on the reloaded state and overtake this one (PROTOCOL I4).
      this.host.reply(reply, errorFrame("storage_failed", { ref: command.clientId }));
      return writer.resync(reply);
    }
    const outcome = this.host.core().handle(command, sender.user, sender.session, loaded);
    if (outcome.status === "accepted") {
      this.host.counters.accepted++;
      // A removed member is owed one last notification (their list says they left): durable with the event.
      const farewells = (outcome.removed ?? []).map((user) => farewellWrite(user, outcome.event.seq, outcome.event.ts));
      writer.add({ kind: "command", reply, accepted: outcome, at: Date.now() }, farewells.length ? [...outcome.writes, ...farewells] : outcome.writes);
    } else if (outcome.status === "duplicate") {
      this.host.counters.duplicates++;
      // PROTOCOL I3: the original ack, and only once the original is durable (PROTOCOL I2).
      if (outcome.committed) reply.acks([outcome.ack]);
      else writer.add({ kind: "resend", reply, ack: outcome.ack }, []);
    } else {
      this.host.reply(reply, errorFrame(outcome.error.code, { ...outcome.error, ref: command.clientId }));
    }
  }
}
