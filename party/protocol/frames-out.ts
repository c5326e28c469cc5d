/**
 * Outbound frames built around already-serialised events: the room serialises an event once, when it is
 * accepted, and splices that string into every frame that carries it (PROTOCOL R2.4).
 */

/** `{"type":"events",...}` / `{"type":"history",...}` frames built around already-serialised events. */
/** `extras`: `,"mine":…,"quotes":…` (room/reader-extras.ts), spliced in after the events, or "". */
export function eventsFrame(eventsJson: string[], replay = false, extras = ""): string {
  return `{"type":"events","events":[${eventsJson.join(",")}]${replay ? ',"replay":true' : ""}${extras}}`;
}

export function historyFrame(requestId: string, eventsJson: string[], hasMore: boolean, extras = ""): string {
  return `{"type":"history","requestId":${JSON.stringify(requestId)},"events":[${eventsJson.join(",")}],"hasMore":${hasMore}${extras}}`;
}

/** PROTOCOL R23: a thread page: the parent's record, replies oldest first. */
export function threadFrame(requestId: string, parentJson: string, eventsJson: string[], hasMore: boolean, extras = ""): string {
  return `{"type":"thread","requestId":${JSON.stringify(requestId)},"parent":${parentJson},"events":[${eventsJson.join(",")}],"hasMore":${hasMore}${extras}}`;
}
