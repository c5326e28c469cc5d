/** Reads of a room's log (history pages, resume replay), always filtered to what is durable (I2). */
import type * as Party from "partykit/server";
import { RoomEvent } from "./protocol/index.ts";
import { eventKey } from "./core/keys.ts";
import type { RoomCore } from "./core/room-core.ts";

/** Events with from <= seq < before, as readers may see them. */
export async function readEvents(storage: Party.Storage, core: RoomCore, from: number, before: number): Promise<RoomEvent[]> {
  if (before <= from) return [];
  const rows = await storage.list<unknown>({ start: eventKey(from), end: eventKey(before) });
  const events: RoomEvent[] = [];
  for (const value of rows.values()) {
    const parsed = RoomEvent.safeParse(value);
    if (!parsed.success) throw new Error(`corrupt event record: ${parsed.error.message}`);
    const visible = core.visible(parsed.data);
    if (visible) events.push(visible);
  }
  return events;
}
