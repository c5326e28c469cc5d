/** Answers to a socket's commands: frames on that socket (PROTOCOL §3.2). */
import type { Ack, ErrorFrame, ServerFrame } from "../protocol/index.ts";
import { safeSend } from "../adapters/sockets.ts";
import type { Conn, Reply } from "./types.ts";

export class SocketReply implements Reply {
  constructor(readonly socket: Conn) {}

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
}
