/**
 * PROTOCOL R81: the directory keeps at most `directoryMaxRooms` rooms. Any room id a user opens is a room, and
 * every room reports, so without a bound one user opening fresh ids would grow the directory's memory, its
 * storage and every listing and metrics scrape for good.
 *
 * Which room goes past the bound: idle rooms (no sockets, observers included) before busy ones, the least
 * recently reported first; among busy rooms the one with the fewest sockets. A newcomer that would itself be
 * first to go is not kept. So the rooms with people in them stay, with exact counts, as long as fewer than
 * the bound have any; an evicted room comes back with its next report when it is busier than the least.
 *
 * Pure: entries in, a room id out.
 */
import type { RoomEntry } from "../protocol/admin-schema.ts";

/** Lower goes first: idle before busy, fewer sockets before more, older reports before newer. */
function before(a: RoomEntry, b: RoomEntry): boolean {
  const idleA = a.connections + a.observers === 0;
  const idleB = b.connections + b.observers === 0;
  if (idleA !== idleB) return idleA;
  const socketsA = a.connections + a.observers;
  const socketsB = b.connections + b.observers;
  if (socketsA !== socketsB) return socketsA < socketsB;
  return a.updatedAt < b.updatedAt;
}

/** The room to drop so that `incoming` (a room not kept yet) fits: one of `kept`, or `incoming.room` itself. */
export function evictionFor(kept: Iterable<RoomEntry>, incoming: RoomEntry): string {
  let victim = incoming;
  for (const entry of kept) if (before(entry, victim)) victim = entry;
  return victim.room;
}

/** At load (the bound may have been lowered): the rooms to drop so that at most `max` stay. */
export function overBound(entries: RoomEntry[], max: number): string[] {
  if (entries.length <= max) return [];
  const order = [...entries].sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
  return order.slice(0, entries.length - max).map((e) => e.room);
}
