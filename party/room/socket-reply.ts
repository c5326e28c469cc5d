/** Answers to a socket's commands: frames on that socket (PROTOCOL §3.2). */
import type { Ack, ErrorFrame, ServerFrame } from "../protocol/index.ts";
import { safeSend } from "../adapters/sockets.ts";
import type { Answered, Conn, Reply } from "./types.ts";

/** Who closes a socket whose later frames must not be decided: the writer, which drops them (room/writer.ts). */
export interface SocketCutter {
  cutOff(socket: Conn, code: number, reason: string): void;
}

export class SocketReply implements Reply {
  /** A socket's commands count toward the room's rate and pending bounds (PROTOCOL R18). */
  readonly flowControlled = true;

  constructor(
    readonly socket: Conn,
    private readonly cutter: SocketCutter,
  ) {}

  get id(): string {
    return this.socket.id;
  }

  acks(acks: Ack[]): void {
    safeSend(this.socket, JSON.stringify({ type: "ack", acks } satisfies ServerFrame));
  }

  error(frame: ErrorFrame): void {
    safeSend(this.socket, JSON.stringify(frame));
  }

  read(user: string, seq: number, requestId: string | undefined): void {
    safeSend(this.socket, JSON.stringify({ type: "receipts", reads: { [user]: seq }, ...(requestId ? { requestId } : {}) }));
  }

  cutOff(code: number, reason: string): void {
    this.cutter.cutOff(this.socket, code, reason);
  }

  /** Nothing now: the socket resyncs with every other one, and its resend gets the stored ack (PROTOCOL I3). */
  releaseFailed(_item: Answered): void {}
}
