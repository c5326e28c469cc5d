/**
 * What a run that ends with work unfinished knows about the rooms that hold it. A lost command has three
 * different causes that look alike from the client: the server closed the socket (recorded as a close),
 * it stopped reading the socket (the generator's unsent bytes grow), or the room stopped working through
 * what it read (the server's own account, from `Target.describeRooms`). One line per room says which.
 */
import type { Ledger } from "./ledger.ts";
import type { Conn, Target } from "../targets/types.ts";

const MAX_ROOMS = 10;

export async function stallReport(target: Target, ledger: Ledger, senders: Array<{ room: string; conn: Conn }>): Promise<string[]> {
  const rooms = ledger.unsettled().slice(0, MAX_ROOMS);
  if (!rooms.length) return [];
  const described = target.describeRooms ? await target.describeRooms(rooms.map((r) => r.room)).catch((error: unknown) => rooms.map(() => `not described: ${String(error)}`)) : [];
  return rooms.map(({ room, unacked, maxAcked, receiversAt }, i) => {
    const unsent = senders.filter((s) => s.room === room).map((s) => s.conn.unsentBytes());
    const parts = [`${unacked} unacked`, `highest acked seq ${maxAcked}`, `senders' unsent bytes [${unsent.join(", ")}]`];
    if (receiversAt.length) parts.push(`receivers behind, at seq [${receiversAt.join(", ")}]`);
    if (described[i]) parts.push(`server: ${described[i]}`);
    return `stalled ${room}: ${parts.join("; ")}`;
  });
}
