import { isResent } from "../party/protocol/index.ts";
import { isErrorCode, type KaiwaError } from "./errors.ts";
import { Outbox, type Numbered, type OutboxOptions } from "./outbox.ts";

/**
 * The outbox plus the app's promises, one per command: resolved by the durable ack, rejected by a
 * non-resend error naming the command or by a final close. Shared by a room's commands and an inbox's
 * DMs, which follow the same rules (PROTOCOL I3, I4).
 */
export class CommandQueue<B extends object, R> {
  readonly #outbox: Outbox<B>;
  readonly #waiters = new Map<string, { resolve: (result: R) => void; reject: (error: KaiwaError) => void }>();

  constructor(options: OutboxOptions) {
    this.#outbox = new Outbox<B>(options);
  }

  add(body: B): Promise<R> {
    const command = this.#outbox.enqueue(body);
    return new Promise((resolve, reject) => this.#waiters.set(command.clientId, { resolve, reject }));
  }

  /** The next command to put on the wire (see Outbox.nextToSend). */
  nextToSend(): Numbered<B> | undefined {
    return this.#outbox.nextToSend();
  }

  /** PROTOCOL R84: the window the room granted in its welcome (see Outbox.grant). */
  grant(window: number | undefined): void {
    this.#outbox.grant(window);
  }

  /** The most commands in flight at once now. */
  get window(): number {
    return this.#outbox.window;
  }

  /** A new socket was welcomed: everything unacked goes again, in order (see Outbox.resend). */
  resend(sessionLastN: number, sessionLost: boolean): void {
    this.#outbox.resend(sessionLastN, sessionLost);
  }

  /** A durable ack; false when it was already handled (e.g. acked again after a resend). */
  ack(clientId: string, result: R): boolean {
    if (!this.#outbox.ack(clientId)) return false;
    const waiter = this.#waiters.get(clientId);
    this.#waiters.delete(clientId);
    waiter?.resolve(result);
    return true;
  }

  /**
   * An error frame naming a command (error.ref). "removed": its promise is rejected. "kept": a resend code
   * (storage_failed, internal, room_unavailable); commands behind it may already be on the wire, so
   * resending it alone could reorder them: the caller must start a new socket, which resends all in order.
   */
  fail(error: KaiwaError): "removed" | "kept" | "unknown" {
    if (error.ref === undefined) return "unknown";
    const failed = this.#outbox.fail(error.ref, isErrorCode(error.code) && isResent(error.code));
    if (failed.outcome === "removed") {
      const waiter = this.#waiters.get(error.ref);
      this.#waiters.delete(error.ref);
      waiter?.reject(error);
    }
    return failed.outcome;
  }

  /** Closed for good: every pending promise rejects with `error`. */
  rejectAll(error: KaiwaError): void {
    for (const command of this.#outbox.drain()) {
      const waiter = this.#waiters.get(command.clientId);
      this.#waiters.delete(command.clientId);
      waiter?.reject(error);
    }
  }
}
