/**
 * Reads of a room's log from its storage (history pages, resume replay, the archive drain), always
 * filtered to what is durable (PROTOCOL I2). Events are stored as JSON text (serialised once when accepted), so
 * replay and history frames are spliced from stored strings without parsing them again.
 */
import type * as Party from "partykit/server";
import { RoomEvent } from "../protocol/index.ts";
import { EVENT_PREFIX, eventKey } from "../core/room-keys.ts";
import type { RoomCore } from "../core/room-core.ts";

/** JSON of the events with from <= seq < before, as readers may see them. */
export async function readEventsJson(storage: Party.Storage, core: RoomCore, from: number, before: number): Promise<string[]> {
  if (before <= from) return [];
  const rows = await storage.list<string>({ start: eventKey(from), end: eventKey(before) });
  const out: string[] = [];
  for (const [key, stored] of rows) {
    const visible = core.visibleJson(Number(key.slice(EVENT_PREFIX.length)), stored);
    if (visible !== undefined) out.push(visible);
  }
  return out;
}

/** Parsed events, for the core's own use (dedupe rebuild, edit targets); corrupt records fail loudly. */
export async function readEvents(storage: Party.Storage, core: RoomCore, from: number, before: number): Promise<RoomEvent[]> {
  return (await readEventsJson(storage, core, from, before)).map((json) => {
    const parsed = RoomEvent.safeParse(JSON.parse(json));
    if (!parsed.success) throw new Error(`corrupt event record: ${parsed.error.message}`);
    return parsed.data;
  });
}
