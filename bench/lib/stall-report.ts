/**
 * What a run that ends with work unfinished (commands unacked, or receivers short of the highest acked
 * seq) knows about the rooms that hold it. A lost command has causes that look alike from the client:
 * the server closed the socket (recorded as a close), it stopped reading the socket (the generator's
 * unsent bytes grow, but only once the kernel's socket buffers are full: megabytes on loopback, so 0
 * proves nothing), or the room stopped working through what it read (the server's own account, from
 * `Target.describeRooms`). One line per room, so a recurrence says which.
 */
import type { Ledger } from "./ledger.ts";
import type { Conn, Target } from "../targets/types.ts";

/** Enough to see whether a stall hit every room or some; more would bury the rest of the failure. */
export const MAX_ROOMS_REPORTED = 10;
/** The report runs after the drain, so the bench's own deadlines are spent: it must not hang a run. */
export const DESCRIBE_WITHIN_MS = 15_000;

export async function stallReport(target: Target, ledger: Ledger, senders: Array<{ room: string; conn: Conn }>, describeWithinMs = DESCRIBE_WITHIN_MS): Promise<string[]> {
  const unsettled = ledger.unsettled();
  const rooms = unsettled.slice(0, MAX_ROOMS_REPORTED);
  if (!rooms.length) return [];
  const described = await askTarget(target, rooms.map((r) => r.room), describeWithinMs);
  const lines = rooms.map(({ room, unacked, maxAcked, receiversAt }, i) => {
    const unsent = senders.filter((s) => s.room === room).map((s) => s.conn.unsentBytes());
    const parts = [`${unacked} unacked`, `highest acked seq ${maxAcked}`, `senders' unsent bytes [${unsent.join(", ")}]`];
    if (receiversAt.length) parts.push(`${receiversAt.length} receivers behind, at seq ${Math.min(...receiversAt)}..${Math.max(...receiversAt)}`);
    if (described.rooms[i]) parts.push(`server: ${described.rooms[i]}`);
    return `stalled ${room}: ${parts.join("; ")}`;
  });
  if (unsettled.length > rooms.length) lines.push(`…and ${unsettled.length - rooms.length} more rooms unsettled`);
  return [...lines, ...described.general];
}

/** The target's account, bounded in time; a target that throws or hangs gives a reason line instead. */
async function askTarget(target: Target, rooms: string[], withinMs: number): Promise<{ rooms: string[]; general: string[] }> {
  if (!target.describeRooms) return { rooms: [], general: [] };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${withinMs / 1000} s`)), withinMs);
  });
  try {
    return await Promise.race([Promise.resolve().then(() => target.describeRooms!(rooms)), timeout]);
  } catch (error) {
    return { rooms: [], general: [`server not described: ${String(error).slice(0, 200)}`] };
  } finally {
    clearTimeout(timer);
  }
}
