/**
 * A room's own account of where its commands wait (the operator stats route, `RoomServer.stats` in
 * party/room.ts), in one line for the bench's stall report. A room that does not answer says something
 * too: its actor is busy or gone, or it holds every response behind a write that never confirmed (the
 * output gate), so a timeout is told apart from a refused connection.
 */
import type { RoomStats } from "../../party/room/server.ts";

export const ANSWER_WITHIN_MS = 5_000;

export async function describeRoom(baseUrl: string, room: string, operatorToken: string, answerWithinMs = ANSWER_WITHIN_MS): Promise<string> {
  try {
    const response = await fetch(`${baseUrl}/parties/room/${room}/stats`, { headers: { authorization: `Bearer ${operatorToken}` }, signal: AbortSignal.timeout(answerWithinMs) });
    if (!response.ok) return `stats answered ${response.status}: ${(await response.text()).slice(0, 200)}`;
    return formatRoomStats((await response.json()) as RoomStats);
  } catch (error) {
    if (error instanceof Error && error.name === "TimeoutError") return `stats not answered within ${answerWithinMs / 1000} s`;
    const cause = error instanceof Error && error.cause ? ` (${String(error.cause)})` : "";
    return `stats not read: ${String(error).slice(0, 160)}${cause.slice(0, 160)}`;
  }
}

/** Pure: the fields that say where a room's commands are, in the order they flow. */
export function formatRoomStats(stats: RoomStats): string {
  const { work } = stats;
  const rejected = Object.entries(stats.commands.rejected).map(([code, n]) => `${code} ${n}`).join(", ") || "none";
  return [
    `lastSeq ${stats.lastSeq}`,
    plural(stats.connections, "socket"),
    `accepted ${stats.commands.accepted} in ${plural(stats.writes.flushes, "write")}`,
    `rejected ${rejected}`,
    `storage failures ${stats.commands.storageFailures}`,
    `release failures ${stats.commands.releaseFailures}`,
    work.writeInFlightMs === null ? "no write in flight" : `a write in flight for ${work.writeInFlightMs} ms`,
    `${work.collecting} collecting behind it`,
    plural(work.tasksQueued, "task") + " queued",
    work.broken ? "BROKEN (reloading after a failed write)" : "not broken",
    `${plural(work.resyncClosed, "socket")} closed to resync since start`,
  ].join(", ");
}

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;
