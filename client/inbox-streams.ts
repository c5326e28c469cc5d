import type { RoomEvent } from "../party/protocol/index.ts";
import { sequence } from "./sequencer.ts";

/**
 * Gapless, exactly-once delivery per room over the inbox's one socket. Live `events` frames carry
 * whatever the room told the inbox (possibly a truncated tail, possibly again after a retry), so per
 * room: anything at or below the delivered seq is a duplicate and dropped; a first seq above
 * delivered + 1 is a gap, and the events from it on are held while `sync` pages fetch the missing ones
 * from the room's log; then the held ones are released through the same filter. At most one sync per
 * room is in flight. Sync state belongs to a socket: a new socket starts over from the delivered seqs.
 */
export type StreamHooks = {
  deliver(room: string, event: RoomEvent): void;
  /** Puts a sync request on the wire; returns its requestId, or null when no socket is ready. */
  requestSync(room: string, after: number): string | null;
  /** A sync answer that does not close the gap (the server's log has a hole): reported, never looped on. */
  stuck(room: string, message: string): void;
};

export type SyncAnswer = { requestId: string; room: string; events: RoomEvent[]; lastSeq: number; hasMore: boolean };

type Stream = { delivered: number; syncing: string | null; held: RoomEvent[] };

export class RoomStreams {
  readonly #hooks: StreamHooks;
  readonly #streams = new Map<string, Stream>();
  /** Sync requests in flight on the current socket: requestId → room. */
  readonly #syncs = new Map<string, string>();
  /** Bumped when the socket changes, so a delivery loop interrupted by an app handler stops. */
  #generation = 0;

  constructor(hooks: StreamHooks) {
    this.#hooks = hooks;
  }

  known(room: string): boolean {
    return this.#streams.has(room);
  }

  position(room: string): number | undefined {
    return this.#streams.get(room)?.delivered;
  }

  positions(): Record<string, number> {
    const all: Record<string, number> = {};
    for (const [room, stream] of this.#streams) all[room] = stream.delivered;
    return all;
  }

  /** Starts following a room after seq `at` (no effect on a room already followed). */
  join(room: string, at: number): void {
    if (!this.#streams.has(room)) this.#streams.set(room, { delivered: at, syncing: null, held: [] });
  }

  isSync(requestId: string): boolean {
    return this.#syncs.has(requestId);
  }

  /** Live events of a followed room, in seq order. */
  live(room: string, events: readonly RoomEvent[]): void {
    const stream = this.#streams.get(room);
    if (!stream) return;
    if (stream.syncing) stream.held.push(...events);
    else this.#run(room, stream, events);
  }

  /** The room is known to have reached `lastSeq` (or, with none given, may have moved): fetch what is missing. */
  catchUp(room: string, lastSeq?: number): void {
    const stream = this.#streams.get(room);
    if (!stream || stream.syncing) return;
    if (lastSeq !== undefined && lastSeq <= stream.delivered) return;
    this.#sync(room, stream);
  }

  /** A sync page: delivers it, asks for the next page while hasMore, then releases the held live events. */
  answer(page: SyncAnswer): boolean {
    const room = this.#syncs.get(page.requestId);
    if (room === undefined) return false; // not ours, or from a socket since replaced
    this.#syncs.delete(page.requestId);
    const stream = this.#streams.get(room);
    if (!stream || stream.syncing !== page.requestId || page.room !== room) return true;
    stream.syncing = null;
    const before = stream.delivered;
    const generation = this.#generation;
    const gapAt = this.#emit(room, stream, page.events);
    if (generation !== this.#generation) return true;
    const progressed = stream.delivered > before;
    if (gapAt !== null || (page.hasMore && !progressed)) {
      this.#hooks.stuck(room, `sync after ${before} returned ${gapAt === null ? "nothing" : `seq ${gapAt}`}; expected ${stream.delivered + 1}`);
      return true;
    }
    if (page.hasMore) {
      this.#sync(room, stream);
      return true;
    }
    const held = stream.held.splice(0);
    const rest = held.filter((event) => event.seq > stream.delivered);
    // Held events that still do not follow after a complete sync would make us sync forever.
    if (rest.length > 0 && rest[0]!.seq > stream.delivered + 1 && !progressed) {
      this.#hooks.stuck(room, `held events start at ${rest[0]!.seq} but the room's log ends at ${stream.delivered}`);
      return true;
    }
    this.#run(room, stream, rest);
    return true;
  }

  /** A sync request was answered with an error: returns its room (the caller decides whether to retry). */
  failed(requestId: string): string | undefined {
    const room = this.#syncs.get(requestId);
    if (room === undefined) return undefined;
    this.#syncs.delete(requestId);
    const stream = this.#streams.get(room);
    if (stream?.syncing === requestId) stream.syncing = null;
    return room;
  }

  /** The socket is gone: in-flight syncs die with it; held events are fetched again (they never advanced delivered). */
  dropSocket(): void {
    this.#generation++;
    this.#syncs.clear();
    for (const stream of this.#streams.values()) {
      stream.syncing = null;
      stream.held.length = 0;
    }
  }

  #run(room: string, stream: Stream, events: readonly RoomEvent[]): void {
    const generation = this.#generation;
    const gapAt = this.#emit(room, stream, events);
    if (gapAt === null || generation !== this.#generation) return;
    stream.held.push(...events.filter((event) => event.seq >= gapAt));
    this.#sync(room, stream);
  }

  /** Delivers what follows `delivered` in order; returns the seq of a gap, if any. */
  #emit(room: string, stream: Stream, events: readonly RoomEvent[]): number | null {
    const generation = this.#generation;
    const { deliver, gapAt } = sequence(stream.delivered, events);
    for (const event of deliver) {
      if (generation !== this.#generation) return null; // a handler closed or reconnected
      stream.delivered = event.seq;
      this.#hooks.deliver(room, event);
    }
    return gapAt;
  }

  #sync(room: string, stream: Stream): void {
    const requestId = this.#hooks.requestSync(room, stream.delivered);
    if (requestId === null) return;
    stream.syncing = requestId;
    this.#syncs.set(requestId, room);
  }
}
