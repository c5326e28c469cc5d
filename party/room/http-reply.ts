/**
 * The answer slot of one command that came over HTTP (an inbox's batch), standing where a socket would:
 * the room resolves it with the durable ack, the typed error, or the committed read position.
 */
import type { RoomCommandResult } from "../protocol/index.ts";

let next = 0;

export class ItemReply {
  /** Never a socket id, so per-socket bookkeeping (resync, catch-up) never matches it. */
  readonly id = `http-${++next}`;
  constructor(readonly resolve: (result: RoomCommandResult | { read: number }) => void) {}
}
