/**
 * The answer slot of one command that came over HTTP (an inbox's batch), standing where a socket would:
 * the room resolves it with the durable ack, the typed error, or the committed read position.
 */
import type { Ack, ErrorFrame, RoomCommandResult } from "../protocol/index.ts";
import type { Reply } from "./types.ts";

let next = 0;

export class HttpReply implements Reply {
  /** Never a socket id, so per-socket bookkeeping (resync, catch-up) never matches it. */
  readonly id = `http-${++next}`;
  /** No socket to close: the inbox answers its device with the error, and the device resends in order. */
  readonly socket = undefined;
  constructor(private readonly resolve: (result: RoomCommandResult | { read: number }) => void) {}

  acks(acks: Ack[]): void {
    for (const ack of acks) this.resolve({ ack });
  }

  error(frame: ErrorFrame): void {
    this.resolve({ error: frame });
  }

  read(_user: string, seq: number): void {
    this.resolve({ read: seq });
  }
}
