import type { ResumeResult } from "../protocol/index.ts";

/**
 * PROTOCOL I5: decide whether a reconnecting client can be brought up to date by replaying the log.
 * Recovery fails only when the stream itself changed (epoch) or the gap is larger than the room replays.
 */
export function decideResume(
  room: { epoch: string; committedSeq: number; resumeMaxEvents: number },
  client: { epoch: string; lastSeq: number },
): ResumeResult {
  if (client.epoch !== room.epoch) return { recovered: false, reason: "epoch_changed" };
  if (client.lastSeq > room.committedSeq) return { recovered: false, reason: "ahead_of_room" };
  if (room.committedSeq - client.lastSeq > room.resumeMaxEvents) return { recovered: false, reason: "too_far_behind" };
  return { recovered: true };
}

/** The seq range a history page covers: events with from <= seq < before, newest `limit` of them. */
export function historyRange(committedSeq: number, before: number | undefined, limit: number): { from: number; before: number } {
  const end = Math.min(before ?? committedSeq + 1, committedSeq + 1);
  return { from: Math.max(1, end - limit), before: end };
}
