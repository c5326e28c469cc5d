/**
 * Presence over y-protocols awareness, the wire (PROTOCOL R72): binary WebSocket frames framed as y-websocket
 * and y-partykit frame them, `[varUint messageType][payload]`, so a stock y-protocols `Awareness` behind a
 * y-partykit provider (or a raw socket) speaks to a room as it would to a y-websocket server:
 * - 1 awareness: payload = varUint8Array of an awareness update, `[varUint n] n × [varUint clientID]
 *   [varUint clock] [varString JSON state or "null"]`;
 * - 3 query-awareness: no payload; the room answers with one awareness frame holding every current state;
 * - 0 sync (a Yjs document): the room holds no document; it answers sync step 1 with an empty step 2 (so a
 *   provider reports itself synced) and ignores steps 2 and updates.
 *
 * Encoded and decoded with lib0, the library y-protocols itself is built on (the same varUint and varString
 * code, so the bytes are y-protocols' by construction), without importing yjs or y-protocols: the room must
 * not run y-protocols' `Awareness` (its constructor starts an interval that would keep the room awake), and
 * the client's bundle stays small. Pure: used by the room and the client alike.
 */
import * as encoding from "lib0/encoding";
import * as decoding from "lib0/decoding";

export const MESSAGE_SYNC = 0;
export const MESSAGE_AWARENESS = 1;
export const MESSAGE_QUERY_AWARENESS = 3;
const SYNC_STEP1 = 0;
const SYNC_STEP2 = 1;

/** One clientID's entry of an awareness update: `state` null means the client is gone. */
export type AwarenessEntry = { clientID: number; clock: number; state: Record<string, unknown> | null };

/** A decoded inbound binary frame, or why it is malformed (the caller answers `bad_frame`, nothing changes). */
export type AwarenessMessage =
  | { kind: "awareness"; entries: AwarenessEntry[]; /** each entry's JSON as sent, for its size */ json: string[] }
  | { kind: "query" }
  | { kind: "sync-step1" }
  | { kind: "sync-other" }
  | { kind: "malformed"; message: string };

/** The payload of an awareness update (what y-protocols' `applyAwarenessUpdate` reads). */
export function encodeAwarenessUpdate(entries: ReadonlyArray<{ clientID: number; clock: number; json: string }>): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, entries.length);
  for (const entry of entries) {
    encoding.writeVarUint(encoder, entry.clientID);
    encoding.writeVarUint(encoder, entry.clock);
    encoding.writeVarString(encoder, entry.json);
  }
  return encoding.toUint8Array(encoder);
}

/** A whole frame: `[1][varUint8Array update]`. */
export function awarenessFrame(entries: ReadonlyArray<{ clientID: number; clock: number; json: string }>): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MESSAGE_AWARENESS);
  encoding.writeVarUint8Array(encoder, encodeAwarenessUpdate(entries));
  return encoding.toUint8Array(encoder);
}

/** `[3]`: asks the room for every current state. */
export function queryAwarenessFrame(): Uint8Array {
  return Uint8Array.of(MESSAGE_QUERY_AWARENESS);
}

/**
 * Sync step 2 carrying an empty Yjs update (`[0 structs][0 deletes]`, what `Y.encodeStateAsUpdate` of an empty
 * document gives): the answer to a provider's sync step 1 from a room that holds no document.
 */
export function emptySyncStep2Frame(): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MESSAGE_SYNC);
  encoding.writeVarUint(encoder, SYNC_STEP2);
  encoding.writeVarUint8Array(encoder, Uint8Array.of(0, 0));
  return encoding.toUint8Array(encoder);
}

/**
 * Decodes a binary frame strictly: a truncated varint, bad JSON, a state that is not an object or null, a
 * clientID or clock past 2^53, more than `maxEntries` entries, or trailing bytes are all malformed.
 */
export function decodeAwarenessMessage(bytes: Uint8Array, maxEntries: number): AwarenessMessage {
  try {
    const decoder = decoding.createDecoder(bytes);
    const type = decoding.readVarUint(decoder);
    if (type === MESSAGE_QUERY_AWARENESS) return decoding.hasContent(decoder) ? malformed("query-awareness carries no payload") : { kind: "query" };
    if (type === MESSAGE_SYNC) {
      const step = decoding.readVarUint(decoder);
      decoding.readVarUint8Array(decoder); // the state vector or update, never applied: the room holds no document
      return step === SYNC_STEP1 ? { kind: "sync-step1" } : { kind: "sync-other" };
    }
    if (type !== MESSAGE_AWARENESS) return malformed(`unknown message type ${type} (0 sync, 1 awareness, 3 query-awareness)`);
    const update = decoding.readVarUint8Array(decoder);
    if (decoding.hasContent(decoder)) return malformed("bytes after the awareness update");
    return decodeAwarenessUpdate(update, maxEntries);
  } catch (error) {
    return malformed(error instanceof Error ? error.message : "truncated frame");
  }
}

/** An awareness update's payload alone (the inverse of `encodeAwarenessUpdate`). */
export function decodeAwarenessUpdate(update: Uint8Array, maxEntries: number): AwarenessMessage {
  try {
    const decoder = decoding.createDecoder(update);
    const count = decoding.readVarUint(decoder);
    if (count > maxEntries) return malformed(`an update names at most ${maxEntries} clients`);
    const entries: AwarenessEntry[] = [];
    const json: string[] = [];
    for (let i = 0; i < count; i++) {
      const clientID = decoding.readVarUint(decoder);
      const clock = decoding.readVarUint(decoder);
      const text = decoding.readVarString(decoder);
      if (!Number.isSafeInteger(clientID) || !Number.isSafeInteger(clock)) return malformed("clientID and clock are integers below 2^53");
      let state: unknown;
      try {
        state = JSON.parse(text);
      } catch {
        return malformed("a state is not valid JSON");
      }
      if (state !== null && (typeof state !== "object" || Array.isArray(state))) return malformed("a state is a JSON object or null");
      entries.push({ clientID, clock, state: state as Record<string, unknown> | null });
      json.push(text);
    }
    if (decoding.hasContent(decoder)) return malformed("bytes after the last entry");
    return { kind: "awareness", entries, json };
  } catch (error) {
    return malformed(error instanceof Error ? error.message : "truncated update");
  }
}

function malformed(message: string): AwarenessMessage {
  return { kind: "malformed", message: `Awareness frame: ${message}.` };
}
