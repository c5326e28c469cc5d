import type { HistoryFrame, HistoryRequest, MessageEvent, Quote, RoomEvent, ThreadFrame, ThreadRequest } from "../party/protocol/index.ts";
import type { KaiwaError } from "./errors.ts";

/** `mine`: the reader's own emoji per message seq (PROTOCOL R20); `quotes`: replies' parents as they are now (PROTOCOL R22). */
export type PageExtras = { mine: Record<string, string[]>; quotes: Record<string, Quote> };
export type HistoryPage = { events: RoomEvent[]; hasMore: boolean } & PageExtras;
/** PROTOCOL R23: a thread's parent (with its reply count and last reply) and a page of its replies, oldest first. */
export type ThreadPage = { parent: MessageEvent; events: MessageEvent[]; hasMore: boolean } & PageExtras;

type Pending<F, A> = {
  frame: F;
  sent: boolean;
  resolve: (answer: A) => void;
  reject: (error: KaiwaError) => void;
};

/**
 * Requests waiting for their answer, by requestId. Reads are idempotent, so a request whose socket
 * died is simply sent again on the next one (after its welcome); it fails only on an error frame
 * naming it or when the client closes for good.
 */
export class Requests<F extends { requestId: string }, A> {
  readonly #pending = new Map<string, Pending<F, A>>();

  get size(): number {
    return this.#pending.size;
  }

  add(frame: F, resolve: (answer: A) => void, reject: (error: KaiwaError) => void): void {
    this.#pending.set(frame.requestId, { frame, sent: false, resolve, reject });
  }

  /** Requests not yet sent on the current socket, marked as sent. */
  takeUnsent(): F[] {
    const frames: F[] = [];
    for (const pending of this.#pending.values()) {
      if (pending.sent) continue;
      pending.sent = true;
      frames.push(pending.frame);
    }
    return frames;
  }

  /** A new socket: every outstanding request must be asked again. */
  resetSent(): void {
    for (const pending of this.#pending.values()) pending.sent = false;
  }

  /** Returns false for an answer nobody waits for (e.g. a request answered twice across a reconnect). */
  answer(requestId: string, answer: A): boolean {
    const pending = this.#pending.get(requestId);
    if (!pending) return false;
    this.#pending.delete(requestId);
    pending.resolve(answer);
    return true;
  }

  reject(requestId: string, error: KaiwaError): boolean {
    const pending = this.#pending.get(requestId);
    if (!pending) return false;
    this.#pending.delete(requestId);
    pending.reject(error);
    return true;
  }

  rejectAll(error: KaiwaError): void {
    const all = [...this.#pending.values()];
    this.#pending.clear();
    for (const pending of all) pending.reject(error);
  }
}

/** A room's history requests. */
export class HistoryRequests extends Requests<HistoryRequest, HistoryPage> {
  resolve(frame: HistoryFrame): boolean {
    return this.answer(frame.requestId, { events: frame.events, hasMore: frame.hasMore, mine: frame.mine ?? {}, quotes: frame.quotes ?? {} });
  }
}

/** A room's thread requests (PROTOCOL R23). */
export class ThreadRequests extends Requests<ThreadRequest, ThreadPage> {
  resolve(frame: ThreadFrame): boolean {
    return this.answer(frame.requestId, { parent: frame.parent, events: frame.events, hasMore: frame.hasMore, mine: frame.mine ?? {}, quotes: frame.quotes ?? {} });
  }
}
