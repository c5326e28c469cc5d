/**
 * Viewers' commands through their relay (PROTOCOL R52): each viewer session's commands go to the room's
 * `relayed` route in order, one request in flight per viewer socket (so a later command never overtakes an
 * earlier one, PROTOCOL I4), and the answers come back as the frames the room would have sent: one `ack`
 * frame, then any error. An answer the client must resend after (`rate_limited`, `storage_failed`, the room
 * unreachable) closes the viewer's socket with the code the room would use, and drops what it still had
 * queued, so the client resends in order (PROTOCOL R18, R3). State exists only for viewers with commands
 * in flight, and goes when they are answered.
 */
import { CLOSE, LIMITS, RoomCommandResult, isResent, type Ack, type Command, type Identity } from "../protocol/index.ts";
import { errorFrame } from "../protocol/error-frame.ts";
import { safeSend } from "../adapters/sockets.ts";
import { IDENTITY_HEADER } from "../adapters/auth.ts";
import { z } from "zod";
import type { Viewer } from "./viewers.ts";
import type { RoomLink } from "./room-link.ts";

const RelayedAnswer = z.object({ results: z.array(RoomCommandResult) });

type Queue = { conn: Viewer; user: Identity; session: string; commands: Command[]; busy: boolean };

export class RelayPosting {
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly link: RoomLink,
    private readonly cutOff: (conn: Viewer, code: number, reason: string) => void,
  ) {}

  get inFlight(): number {
    return this.queues.size;
  }

  submit(conn: Viewer, user: Identity, session: string, commands: Command[]): void {
    let queue = this.queues.get(conn.id);
    if (!queue) this.queues.set(conn.id, (queue = { conn, user, session, commands: [], busy: false }));
    // The same bound as the room's pending bound per socket (PROTOCOL R18.3).
    if (queue.commands.length + commands.length > LIMITS.maxPendingPerSocket) {
      safeSend(conn, JSON.stringify(errorFrame("rate_limited", { retryAfterMs: 250, ...(commands[0] ? { ref: commands[0].clientId } : {}) })));
      return this.end(conn, CLOSE.rateLimited, "rate_limited");
    }
    queue.commands.push(...commands);
    if (!queue.busy) void this.pump(queue);
  }

  /** The viewer's socket closed: what it still had queued goes (its client resends on its next socket). */
  forget(connId: string): void {
    this.queues.delete(connId);
  }

  private async pump(queue: Queue): Promise<void> {
    queue.busy = true;
    while (queue.commands.length > 0 && this.queues.get(queue.conn.id) === queue) {
      const batch = queue.commands.splice(0, LIMITS.maxCommandsPerFrame);
      const results = await this.post(queue, batch);
      if (this.queues.get(queue.conn.id) !== queue) return; // closed meanwhile
      if (!this.answer(queue, batch, results)) return;
    }
    queue.busy = false;
    if (queue.commands.length === 0) this.queues.delete(queue.conn.id);
  }

  private async post(queue: Queue, commands: Command[]): Promise<RoomCommandResult[] | undefined> {
    try {
      const response = await this.link.fetch("/relayed", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          [IDENTITY_HEADER]: JSON.stringify({ sub: queue.user.id, name: queue.user.name, ...(queue.user.role ? { role: queue.user.role } : {}) }),
        },
        body: JSON.stringify({ session: queue.session, commands }),
      });
      const parsed = RelayedAnswer.safeParse(await response.json());
      return parsed.success ? parsed.data.results : undefined;
    } catch (error) {
      console.error("relay: posting to the room failed", error);
      return undefined;
    }
  }

  /** Sends the answers on; false when the viewer was cut off (nothing after the named command was decided). */
  private answer(queue: Queue, batch: Command[], results: RoomCommandResult[] | undefined): boolean {
    const { conn } = queue;
    if (!results) {
      safeSend(conn, JSON.stringify(errorFrame("room_unavailable", batch[0] ? { ref: batch[0].clientId } : {})));
      this.end(conn, CLOSE.resyncRequired, "resync_required");
      return false;
    }
    const acks: Ack[] = [];
    const errors: string[] = [];
    let cut: number | undefined;
    for (const result of results) {
      if ("ack" in result) acks.push(result.ack);
      else {
        errors.push(JSON.stringify(result.error));
        if (isResent(result.error.code)) cut = result.error.code === "rate_limited" ? CLOSE.rateLimited : CLOSE.resyncRequired;
      }
    }
    if (acks.length > 0) safeSend(conn, JSON.stringify({ type: "ack", acks }));
    for (const frame of errors) safeSend(conn, frame);
    if (cut === undefined && results.length < batch.length) cut = CLOSE.resyncRequired; // the room answered fewer than it was sent
    if (cut !== undefined) {
      this.end(conn, cut, cut === CLOSE.rateLimited ? "rate_limited" : "resync_required");
      return false;
    }
    return true;
  }

  private end(conn: Viewer, code: number, reason: string): void {
    this.queues.delete(conn.id);
    this.cutOff(conn, code, reason);
  }
}
