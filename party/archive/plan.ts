/**
 * The pure arithmetic of the outbox: which seqs the next drain carries, what may be pruned, where a
 * history page splits between the room's window and the archive, how long to wait after a failure.
 * No I/O, no clock, no randomness (they come in), so unit tests drive it with plain numbers.
 */
import { backoffDelay } from "../protocol/backoff.ts";

/** The next batch: seqs from..to inclusive (empty when to < from). Only durable events are drained (PROTOCOL I2). */
export function nextBatch(cursor: number, committedSeq: number, batchRows: number): { from: number; to: number } {
  return { from: cursor + 1, to: Math.min(committedSeq, cursor + batchRows) };
}

/**
 * Highest seq the room may delete from its storage: only what the archive has confirmed (PROTOCOL I9: pruning
 * never loses an event), and never inside the recent window the room keeps.
 */
export function pruneFloor(state: { cursor: number; prunedThrough: number }, committedSeq: number, retention: number): number {
  return Math.max(state.prunedThrough, Math.min(state.cursor, committedSeq - retention));
}

/**
 * A history page [from, before) read across the retention boundary: seqs <= prunedThrough come from the
 * archive, the rest from the room. The two ranges touch and do not overlap, so the page has no gap.
 */
export function splitRange(from: number, before: number, prunedThrough: number): { archive?: [number, number]; room?: [number, number] } {
  const boundary = prunedThrough + 1;
  const out: { archive?: [number, number]; room?: [number, number] } = {};
  if (from < Math.min(before, boundary)) out.archive = [from, Math.min(before, boundary)];
  if (Math.max(from, boundary) < before) out.room = [Math.max(from, boundary), before];
  return out;
}

/** The drain's retry delay: the shared full-jitter backoff, uniform in [base/4, min(cap, base·2^(failures-1))]. */
export function retryDelayMs(failures: number, baseMs: number, capMs: number, random: () => number): number {
  // Never sooner than a quarter of the base: a drain retried at once would hit the same outage.
  return Math.max(baseMs / 4, backoffDelay(failures - 1, { baseMs, capMs, random }));
}

/** Resume by replay only reaches back to what the room still stores (PROTOCOL I5): further back is too far behind. */
export function replayableEvents(resumeMaxEvents: number, committedSeq: number, prunedThrough: number): number {
  return Math.max(0, Math.min(resumeMaxEvents, committedSeq - prunedThrough));
}
