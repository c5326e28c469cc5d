import type { RoomEvent } from "../party/protocol/index.ts";

/** Where a client is in a room's stream: the epoch names the stream, lastSeq the last event seen. */
export type Position = { epoch: string; lastSeq: number };

export type SequenceResult = {
  /** Events to hand to the app, in order: exactly lastSeq + 1, lastSeq + 2, ... */
  deliver: RoomEvent[];
  /** The first seq that did not follow (a gap); the shell reconnects to have the room replay. */
  gapAt: number | null;
};

/**
 * Exactly-once, in-order delivery over a stream with overlaps (PROTOCOL I1, I5). Replay and live broadcast can
 * both carry the same event, so anything at or below lastSeq is a duplicate and dropped. Anything
 * above lastSeq + 1 means an event is missing: nothing after it is delivered, since the app must never
 * see a hole. Pure: the caller advances its position as it emits.
 */
export function sequence(lastSeq: number, events: readonly RoomEvent[]): SequenceResult {
  const deliver: RoomEvent[] = [];
  let last = lastSeq;
  for (const event of events) {
    if (event.seq <= last) continue;
    if (event.seq !== last + 1) return { deliver, gapAt: event.seq };
    deliver.push(event);
    last = event.seq;
  }
  return { deliver, gapAt: null };
}
