/**
 * The answer slot of one command that came over HTTP (an inbox's batch), standing where a socket would:
 * the room resolves it with the durable ack, the typed error, or the committed read position.
 */
import type { Ack, ErrorFrame, RoomCommandResult } from "../protocol/index.ts";
import { ackOf, type Answered, type Reply } from "./types.ts";

let next = 0;

export class HttpReply implements Reply {
  /** Never a socket id, so per-socket bookkeeping (resync, catch-up) never matches it. */
  readonly id = `http-${++next}`;
  /** The inbox bounds its devices' batches; the room does not count them per reply. */
  readonly flowControlled = false;
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

  /** No socket to close: the inbox answers its device with the error, and the device resends in order. */
  cutOff(_code: number, _reason: string): void {}

  /** No resync reaches an HTTP caller: it gets the durable result now (PROTOCOL R3a). */
  releaseFailed(item: Answered): void {
    if (item.kind === "read") this.read(item.user, item.seq);
    else this.acks([ackOf(item)]);
  }
}
