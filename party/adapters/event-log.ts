/**
 * Reads of a room's log from its storage (history pages, resume replay, the archive drain), always
 * filtered to what is durable (PROTOCOL I2). Events are stored as JSON text (serialised once when accepted), so
 * replay and history frames are spliced from stored strings without parsing them again.
 */
import type * as Party from "partykit/server";
import { LIMITS, RoomEvent } from "../protocol/index.ts";
import { eventKey, seqOfEventKey } from "../core/room-keys.ts";
import type { RoomCore } from "../core/room-core.ts";

/** JSON of the events with from <= seq < before, as readers may see them. */
export async function readEventsJson(storage: Party.Storage, core: RoomCore, from: number, before: number): Promise<string[]> {
  if (before <= from) return [];
  const rows = await storage.list<string>({ start: eventKey(from), end: eventKey(before) });
  const out: string[] = [];
  for (const [key, stored] of rows) {
    const visible = core.visibleJson(seqOfEventKey(key), stored);
    if (visible !== undefined) out.push(visible);
  }
  return out;
}

/** JSON of scattered seqs still stored (batched gets), as readers may see them, by seq. */
export async function getEventsJson(storage: Party.Storage, core: RoomCore, seqs: number[]): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for (let i = 0; i < seqs.length; i += LIMITS.maxKeysPerPut) {
    const rows = await storage.get<string>(seqs.slice(i, i + LIMITS.maxKeysPerPut).map(eventKey));
    for (const [key, stored] of rows) {
      const seq = seqOfEventKey(key);
      const visible = core.visibleJson(seq, stored);
      if (visible !== undefined) out.set(seq, visible);
    }
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
