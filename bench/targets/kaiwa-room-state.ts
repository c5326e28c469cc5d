/**
 * A room's own account of where its commands wait (the operator stats route, party/room.ts `stats`), in
 * one line for the bench's stall report. A room that does not answer says something too: its actor is
 * busy, gone, or holding its responses behind a write that never confirmed (the output gate).
 */
const ANSWER_WITHIN_MS = 5_000;

type RoomStats = {
  lastSeq: number;
  connections: number;
  commands: { accepted: number; rejected: Record<string, number>; storageFailures: number };
  writes: { flushes: number };
  work: { collecting: number; writeInFlightMs: number | null; tasksQueued: number; broken: boolean; resyncing: number };
};

export async function describeRoom(baseUrl: string, room: string, operatorToken: string): Promise<string> {
  let response: Response;
  try {
    response = await fetch(`${baseUrl}/parties/room/${room}/stats`, { headers: { authorization: `Bearer ${operatorToken}` }, signal: AbortSignal.timeout(ANSWER_WITHIN_MS) });
  } catch (error) {
    // A timeout here is itself a finding: the actor is busy, or its responses wait behind a write.
    return `stats not answered (${ANSWER_WITHIN_MS / 1000} s allowed): ${String(error).slice(0, 160)}`;
  }
  if (!response.ok) return `stats answered ${response.status}: ${(await response.text()).slice(0, 200)}`;
  const stats = (await response.json()) as RoomStats;
  const { work } = stats;
  const rejected = Object.entries(stats.commands.rejected).map(([code, n]) => `${code} ${n}`).join(", ") || "none";
  return [
    `lastSeq ${stats.lastSeq}`,
    `${stats.connections} sockets`,
    `accepted ${stats.commands.accepted} in ${stats.writes.flushes} writes`,
    `rejected ${rejected}`,
    `storage failures ${stats.commands.storageFailures}`,
    work.writeInFlightMs === null ? "no write in flight" : `a write in flight for ${work.writeInFlightMs} ms`,
    `${work.collecting} collecting behind it`,
    `${work.tasksQueued} tasks queued`,
    work.broken ? "BROKEN (reloading after a failed write)" : "not broken",
    `${work.resyncing} sockets resyncing`,
  ].join(", ");
}
