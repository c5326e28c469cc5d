/**
 * Deciding commands: from a socket frame, an inbox's HTTP batch, a REST post or the admin API, each is decided by the
 * core in arrival order (PROTOCOL I4) and handed to the writer; nothing is answered before it is durable (PROTOCOL I2).
 * The fast path decides at once when nothing is queued and nothing must be loaded; otherwise the command
 * waits in the room's task queue behind earlier ones.
 */
import type * as Party from "partykit/server";
import { CLOSE, type Attachment, type Command, type Identity, type ErrorFrame, type PostBody, type RoomEvent } from "../protocol/index.ts";
import { errorFrame } from "../protocol/error-frame.ts";
import type { BotMessage, Outcome, RoomCore } from "../core/room-core.ts";
import { sessionKey } from "../core/room-keys.ts";
import { readEvents } from "../adapters/event-log.ts";
import { retryOf } from "../core/log-view.ts";
import { farewellWrite } from "./inbox-link.ts";
import { ensureDedupe, ensureSession, loadFor } from "./command-loads.ts";
import type { AdminAction, AdminResult } from "./admin.ts";
import type { RoomWriter } from "./writer.ts";
import type { RoomFlow } from "./flow.ts";
import type { Checked, RoomUploads } from "./uploads.ts";
import type { CommandCounters, ConnState, Reply } from "./types.ts";

/** What deciding needs from the rest of the room. */
export interface CommandsHost {
  readonly room: Pick<Party.Room, "storage">;
  readonly writer: Pick<RoomWriter, "add" | "broken" | "pendingOf" | "resync" | "isResyncing">;
  readonly flow: Pick<RoomFlow, "message" | "overPending">;
  readonly uploads: Pick<RoomUploads, "check" | "ledger">;
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
/** The session a user's REST posts are numbered in by the room, in arrival order (PROTOCOL R44). */
export const HTTP_SESSION = "_http";

export class RoomCommands {
  /**
   * Per device session: the tail of its commands held behind an upload check (PROTOCOL R31). A send naming
   * uploads waits on the object store; the session's later commands wait behind it (PROTOCOL I4), while every
   * other session's commands go on being decided.
   */
  private readonly held = new Map<string, Promise<void>>();
  /** Commands each socket has waiting in `held`: they count toward its pending bound (PROTOCOL R18). */
  private readonly heldBySocket = new Map<string, number>();

  constructor(private readonly host: CommandsHost) {}

  /**
   * Decides `command` now or queues it in arrival order. False when the sender was over a limit
   * (PROTOCOL R18): the socket is closed, and nothing it sent after this command may be decided.
   */
  submit(reply: Reply, sender: Sender, command: Command): boolean {
    if (reply.flowControlled) {
      // A resend of a decided command costs nothing: it is answered from the dedupe window (PROTOCOL I3).
      const core = this.host.core();
      const resend = core.dedupeLoaded && core.knows(sender.user.id, command.clientId);
      const wait = (resend ? 0 : this.host.flow.message(sender.user)) || (this.host.flow.overPending(this.host.writer.pendingOf(reply.id) + (this.heldBySocket.get(reply.id) ?? 0)) ? PENDING_RETRY_MS : 0);
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
    reply.cutOff(CLOSE.rateLimited, "rate_limited");
  }

  private route(reply: Reply, sender: Sender, command: Command): void {
    const key = sessionKey(sender.user.id, sender.session);
    const ahead = this.held.get(key);
    const refs = command.type === "send" ? command.attachments : undefined;
    if (!ahead && !refs?.length) return this.routeNow(reply, sender, command, undefined);
    // The check starts now, beside the room's order; the command enters that order once it and every
    // command of the session ahead of it are through. A resend of an accepted send is not checked again:
    // the core answers it from the dedupe window (PROTOCOL I3), its uploads already taken by the original.
    const core = this.host.core();
    const resend = core.dedupeLoaded && core.knows(sender.user.id, command.clientId);
    const checking: Promise<Checked | undefined> = refs?.length && !resend ? this.host.uploads.check(refs, sender.user) : Promise.resolve(undefined);
    this.heldBySocket.set(reply.id, (this.heldBySocket.get(reply.id) ?? 0) + 1);
    let counted = true;
    const leave = () => {
      if (!counted) return;
      counted = false;
      const left = (this.heldBySocket.get(reply.id) ?? 1) - 1;
      if (left > 0) this.heldBySocket.set(reply.id, left);
      else this.heldBySocket.delete(reply.id);
    };
    const tail = (ahead ?? Promise.resolve())
      .then(() => checking)
      .then((checked) => {
        leave(); // into the pipeline in the same turn, where the writer counts it: never counted twice
        this.routeNow(reply, sender, command, checked);
      })
      .catch((error) => {
        leave();
        console.error("checking uploads failed", error);
        this.host.reply(reply, errorFrame("internal", { ref: command.clientId }));
      })
      .finally(() => {
        if (this.held.get(key) === tail) this.held.delete(key);
      });
    this.held.set(key, tail);
  }

  private routeNow(reply: Reply, sender: Sender, command: Command, checked: Checked | undefined): void {
    const core = this.host.core();
    // Fast path: with nothing queued ahead and nothing to load, decide now (no promise per frame).
    const ready = this.host.queued() === 0 && core.dedupeLoaded && core.hasSession(sessionKey(sender.user.id, sender.session));
    if (ready && core.missingTargets(command).length === 0 && core.missingReactionSet(command, sender.user.id) === undefined) this.decide(reply, sender, command, [], checked);
    else this.host.enqueue(() => this.loadAndDecide(reply, sender, command, checked));
  }

  /**
   * A message posted over HTTP (PROTOCOL R44): the message rate a socket's send meets (PROTOCOL R18), then
   * decided in the room's task order like any command, numbered by the room in the user's `_http` session,
   * and answered through `reply` once durable (PROTOCOL I2). A known clientId is a retry when the body is the
   * stored message's (its original ack, PROTOCOL I3) and `clientid_reused` otherwise. Over the rate: `rate_limited`
   * with `retryAfterMs`, nothing decided (there is no socket to close).
   */
  post(reply: Reply, who: Identity, body: PostBody): void {
    const core = this.host.core();
    const retry = core.dedupeLoaded && core.knows(who.id, body.clientId);
    const wait = retry ? 0 : this.host.flow.message(who);
    if (wait > 0) {
      const retryAfterMs = Number.isFinite(wait) ? Math.min(Math.ceil(wait), MAX_RETRY_AFTER_MS) : MAX_RETRY_AFTER_MS;
      return this.host.reply(reply, errorFrame("rate_limited", { retryAfterMs, ref: body.clientId }));
    }
    this.host.enqueue(async () => {
      const sender: Sender = { user: who, session: HTTP_SESSION };
      let command: Command;
      try {
        await this.load(sender, { type: "send", clientId: body.clientId, n: 1, text: "" });
        const core = this.host.core();
        const lastN = core.sessionLastN(sessionKey(who.id, HTTP_SESSION));
        const original = core.original(who.id, body.clientId);
        if (original) {
          const stored = original.event ?? (await readEvents(this.host.room.storage, core, original.seq, original.seq + 1))[0];
          if (retryOf(stored, body) === "reused") return this.host.reply(reply, errorFrame("clientid_reused", { ref: body.clientId }));
        }
        // A retry carries the session's last number (the core answers a known pair at or below it with the
        // original ack); a new post the next one.
        command = { type: "send", clientId: body.clientId, n: original ? lastN : lastN + 1, text: body.text };
      } catch (error) {
        console.error("loading for a REST post failed", error);
        return this.host.reply(reply, errorFrame("internal", { ref: body.clientId }));
      }
      this.decide(reply, sender, command, [], undefined);
    });
  }

  /** The session's stored state (PROTOCOL I4), loaded once per room start. */
  ensureSession(userId: string, session: string): Promise<void> {
    return ensureSession(this.host.room.storage, this.host.core(), userId, session);
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
          // An operator's deletion frees the message's files like the author's (PROTOCOL R33).
          const freed = accepted?.freed ? this.host.uploads.ledger.free(accepted.freed, Date.now()) : [];
          this.host.writer.add({ kind: "admin", accepted, ack, settle }, accepted ? [...accepted.writes, ...freed] : []);
        } catch (error) {
          reject(error);
        }
      });
    });
  }

  /**
   * A bot's message from the publish API (PROTOCOL R61): decided in the room's task order like any command
   * and settled only once durable (PROTOCOL I2); a known `(bot, clientId)` settles with the original ack (PROTOCOL I3).
   */
  runPublish(bot: Identity, message: BotMessage, clientId: string): Promise<AdminResult> {
    return new Promise((resolve, reject) => {
      this.host.enqueue(async () => {
        try {
          if (this.host.writer.broken) return resolve({ ok: false, error: { code: "storage_failed" } });
          await ensureDedupe(this.host.room.storage, this.host.core()); // a retry is recognised after a restart too
          const outcome = this.host.core().publish(bot, message, clientId);
          if (outcome.status === "rejected") return resolve({ ok: false, error: outcome.error });
          if (outcome.status === "duplicate" && outcome.committed) return resolve({ ok: true, ack: outcome.ack });
          const settle = (error?: unknown) => (error ? reject(error) : resolve({ ok: true, ack: outcome.ack }));
          const accepted = outcome.status === "accepted" ? outcome : undefined;
          if (accepted) this.host.counters.accepted++;
          this.host.writer.add({ kind: "admin", accepted, ack: outcome.ack, settle }, accepted ? accepted.writes : []);
        } catch (error) {
          reject(error);
        }
      });
    });
  }

  /** The slow path: load the session, the dedupe window or an edit's target, then decide in arrival order. */
  private async loadAndDecide(reply: Reply, sender: Sender, command: Command, checked: Checked | undefined): Promise<void> {
    let loaded: RoomEvent[];
    try {
      loaded = await this.load(sender, command);
    } catch (error) {
      // A command left unanswered would let later ones from the same session overtake it (PROTOCOL I4).
      console.error("loading for a command failed", error);
      this.host.reply(reply, errorFrame("internal", { ref: command.clientId }));
      return this.host.writer.resync(reply);
    }
    this.decide(reply, sender, command, loaded, checked);
  }

  /** What the core needs for `command`, loaded (room/command-loads.ts): the targets and parents it read. */
  private load(sender: Sender, command: Command): Promise<RoomEvent[]> {
    return loadFor(this.host.room.storage, () => this.host.core(), sender.user.id, sender.session, command);
  }

  private decide(reply: Reply, sender: Sender, command: Command, loaded: RoomEvent[], checked: Checked | undefined): void {
    const { writer, uploads } = this.host;
    if (writer.isResyncing(reply.id)) return;
    if (writer.broken) {
      // Later frames of this socket would be decided on the reloaded state and overtake this one (PROTOCOL I4).
      this.host.reply(reply, errorFrame("storage_failed", { ref: command.clientId }));
      return writer.resync(reply);
    }
    const core = this.host.core();
    const refs = command.type === "send" ? (command.attachments ?? []) : [];
    let files: Attachment[] | undefined;
    if (refs.length > 0 && !core.knows(sender.user.id, command.clientId)) {
      // PROTOCOL R31: the object was checked beside the pipeline; whether the slot is still free is decided here, in order.
      const refused = checked === undefined ? { code: "upload_unknown" as const } : checked.ok ? uploads.ledger.refuse(refs, sender.user, Date.now()) : checked.error;
      if (refused) return this.host.reply(reply, errorFrame(refused.code, { ...refused, ref: command.clientId }));
      files = checked!.ok ? checked!.files : undefined;
    }
    const outcome = core.handle(command, sender.user, sender.session, loaded, files);
    if (outcome.status === "accepted") {
      this.host.counters.accepted++;
      // Beside the event's own writes, each only when there is one (a plain message has none, and this runs for each):
      // a removed member's last notification (their list says they left), durable with the event;
      // the upload slots this message takes, or the objects its deletion owes a removal (PROTOCOL R31, R33).
      let writes = outcome.writes;
      if (outcome.removed?.length) writes = [...writes, ...outcome.removed.map((user) => farewellWrite(user, outcome.event.seq, outcome.event.ts))];
      if (files) writes = [...writes, ...uploads.ledger.attach(files, outcome.ack.seq)];
      if (outcome.freed) writes = [...writes, ...uploads.ledger.free(outcome.freed, Date.now())];
      writer.add({ kind: "command", reply, accepted: outcome, at: Date.now() }, writes);
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
