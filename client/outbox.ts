import type { Role, AttachmentRef } from "../party/protocol/index.ts";

/**
 * The session's unacknowledged commands, in the order the app issued them (PROTOCOL I4). Pure: no I/O, no
 * clock; ids come from an injected source. The room shell sends what `nextToSend()` returns and feeds
 * back acks, errors and welcomes.
 *
 * Numbering: every command gets `n` from the session counter. The room accepts a command only if its
 * n is above the session's last accepted n, and answers a resend of a known clientId with its original
 * ack, but only while n is not above that mark (a known clientId under a new, higher n is
 * `clientid_reused`). So numbers are kept across resends and changed only when the room has lost
 * the session (see `resend`).
 */
export type CommandBody =
  | { type: "send"; text: string; attachments?: AttachmentRef[]; replyTo?: number; thread?: number }
  | { type: "react"; target: number; emoji: string; remove?: boolean }
  | { type: "pin"; target: number; remove?: boolean }
  | { type: "edit"; target: number; text: string }
  | { type: "delete"; target: number }
  | { type: "group.create"; title: string; members: string[] }
  | { type: "group.rename"; title: string }
  | { type: "member.add"; user: string }
  | { type: "member.remove"; user: string }
  | { type: "member.role"; user: string; role: Role }
  | { type: "group.leave" };

/** A body with the fields the outbox assigns. For a room's CommandBody this is a protocol `Command`. */
export type Numbered<B> = B & { clientId: string; n: number };

export type OutboxOptions = {
  /** Most commands sent and not yet acked at once (the in-flight window). */
  maxInFlight: number;
  /** Source of clientIds (nanoid in the client, a counter in tests). */
  newId: () => string;
};

/** What a command error did to the outbox. */
export type FailOutcome<B extends object = CommandBody> =
  | { outcome: "removed"; command: Numbered<B> } // non-retryable: the app's promise must be rejected
  | { outcome: "kept"; command: Numbered<B> } // retryable: stays in place, resent after the next welcome
  | { outcome: "unknown" }; // not (or no longer) pending: an old answer, or not a command's clientId

/**
 * Generic over the command body so the inbox's DMs (`{ type: "dm", to, text }`) share the numbering
 * and resend rules: one session, one counter, whatever the destination.
 */
export class Outbox<B extends object = CommandBody> {
  readonly #entries: { command: Numbered<B>; sent: boolean }[] = [];
  readonly #maxInFlight: number;
  /** The window in force: the app's maxInFlight, or the smaller one the room granted (PROTOCOL R84). */
  #window: number;
  readonly #newId: () => string;
  /** The highest n handed out; the next command gets lastN + 1. */
  #lastN = 0;

  constructor(options: OutboxOptions) {
    if (!Number.isInteger(options.maxInFlight) || options.maxInFlight < 1) {
      throw new RangeError(`maxInFlight must be a positive integer, got ${options.maxInFlight}`);
    }
    this.#maxInFlight = options.maxInFlight;
    this.#window = options.maxInFlight;
    this.#newId = options.newId;
  }

  /**
   * PROTOCOL R84: the room's window from its welcome (undefined: an older room, the app's own). Commands
   * already sent stay sent; no more go out until the in-flight count is below the new window.
   */
  grant(window: number | undefined): void {
    this.#window = window !== undefined && window >= 1 ? Math.min(this.#maxInFlight, window) : this.#maxInFlight;
  }

  /** The most commands this outbox puts in flight at once now. */
  get window(): number {
    return this.#window;
  }

  /** Number of commands not yet acked (sent or not). */
  get size(): number {
    return this.#entries.length;
  }

  /** Commands sent on the current socket and not yet answered. */
  get inFlight(): number {
    // Sends go out in order and `resend` unmarks all, so sent entries are always a prefix.
    let count = 0;
    while (count < this.#entries.length && this.#entries[count]?.sent) count++;
    return count;
  }

  get lastN(): number {
    return this.#lastN;
  }

  /** The pending commands in order (copies; for inspection and tests). */
  pending(): Numbered<B>[] {
    return this.#entries.map((entry) => ({ ...entry.command }));
  }

  /** Assigns clientId and n and queues the command behind everything already pending. */
  enqueue(body: B): Numbered<B> {
    const command: Numbered<B> = { ...body, clientId: this.#newId(), n: ++this.#lastN };
    this.#entries.push({ command, sent: false });
    return { ...command };
  }

  /**
   * The next command to put on the wire, marked as sent, or undefined when all are sent or the window
   * is full. Marking here is what guarantees a command is never sent twice on the same socket.
   */
  nextToSend(): Numbered<B> | undefined {
    const index = this.inFlight;
    if (index >= this.#window) return undefined;
    const entry = this.#entries[index];
    if (!entry) return undefined;
    entry.sent = true;
    return { ...entry.command };
  }

  /** A durable ack (a `duplicate: true` re-ack counts the same): removes and returns the command. */
  ack(clientId: string): Numbered<B> | undefined {
    return this.#remove(clientId);
  }

  /**
   * An error frame answering a command. Non-retryable: the command is dropped (the room will never
   * accept it). Retryable: it keeps its place; the shell reconnects so that it and everything behind
   * it are resent in order rather than this one alone jumping ahead or behind.
   */
  fail(clientId: string, retryable: boolean): FailOutcome<B> {
    const entry = this.#entries.find((e) => e.command.clientId === clientId);
    if (!entry) return { outcome: "unknown" };
    if (retryable) return { outcome: "kept", command: { ...entry.command } };
    this.#remove(clientId);
    return { outcome: "removed", command: { ...entry.command } };
  }

  /**
   * After a welcome on a new socket: everything unacked is to be sent again, in original order.
   * `sessionLostWith` is the welcome's sessionLastN when the room no longer has this session's state
   * (resume failed with epoch_changed / ahead_of_room): the pending commands are then renumbered from
   * sessionLastN + 1, keeping their clientIds, because their old numbers mean nothing to the room.
   */
  resend(sessionLastN: number, sessionLost: boolean): void {
    for (const entry of this.#entries) entry.sent = false;
    if (sessionLost) {
      let n = sessionLastN;
      for (const entry of this.#entries) entry.command = { ...entry.command, n: ++n };
      this.#lastN = n;
    } else {
      // New commands must number above whatever the room has accepted for this session.
      this.#lastN = Math.max(this.#lastN, sessionLastN);
    }
  }

  /** Removes everything (the room closed for good); returns what was pending so promises can be rejected. */
  drain(): Numbered<B>[] {
    return this.#entries.splice(0).map((entry) => entry.command);
  }

  #remove(clientId: string): Numbered<B> | undefined {
    const index = this.#entries.findIndex((e) => e.command.clientId === clientId);
    if (index < 0) return undefined;
    const [entry] = this.#entries.splice(index, 1);
    return entry?.command;
  }
}
