/**
 * Outbound frames built around already-serialised events: the room serialises an event once, when it is
 * accepted, and splices that string into every frame that carries it (PROTOCOL R2.4).
 */

/** `{"type":"events",...}` / `{"type":"history",...}` frames built around already-serialised events. */
export function eventsFrame(eventsJson: string[], replay = false): string {
  return `{"type":"events","events":[${eventsJson.join(",")}]${replay ? ',"replay":true' : ""}}`;
}

export function historyFrame(requestId: string, eventsJson: string[], hasMore: boolean): string {
  return `{"type":"history","requestId":${JSON.stringify(requestId)},"events":[${eventsJson.join(",")}],"hasMore":${hasMore}}`;
}
