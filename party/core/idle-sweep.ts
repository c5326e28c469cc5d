/**
 * Which sockets have gone silent while the room kept sending to them (PROTOCOL §7), for a room to close.
 *
 * Why: the runtime queues whatever a room sends to a socket whose peer does not read, without bound and
 * without telling the room (workerd has no `bufferedAmount`; `send` never fails while the socket is open;
 * measured: 256 MB queued for one non-reading socket, the process growing by as much). A half-open peer
 * (a laptop lid, a dead NAT) holds that memory until TCP gives up, minutes later. Closing the socket stops
 * the growth at once (`send` after `close` throws, and the room's sends catch it), although what is
 * already queued stays until the transport ends. A healthy client is heard from at least every ping
 * interval, so a socket silent for `idleMs` while the room sent it at least `minBytes` is dead or not
 * reading, and is closed.
 *
 * No timer and no alarm: the room asks `due` when it sends (a room that sends nothing lets no queue grow,
 * so it never needs a sweep), and `due` looks at the sockets at most once per `everyMs`. Bytes are counted
 * once per broadcast, room-wide: a socket's count is what the room broadcast since it was last heard.
 *
 * Pure: the clock comes in as `now`.
 */
export type IdleSweepOptions = {
  /** Silence (no frame at all, not even `ping`) after which a socket may be closed (ms). */
  idleMs: number;
  /** What the room must have broadcast since the socket was last heard; 0: silence alone is enough. */
  minBytes: number;
  /** At most one look at the sockets per this interval (ms). */
  everyMs: number;
};

export class IdleSweep {
  /** Per socket: when it was last heard, and the room's broadcast total then. */
  private readonly heard = new Map<string, { at: number; mark: number }>();
  private broadcastBytes = 0;
  private lastSweep = -Infinity;

  constructor(private readonly options: IdleSweepOptions) {}

  /** A socket was admitted or sent a frame (any frame, `ping` included). */
  heardFrom(id: string, now: number): void {
    const entry = this.heard.get(id);
    if (entry) {
      entry.at = now;
      entry.mark = this.broadcastBytes;
    } else {
      this.heard.set(id, { at: now, mark: this.broadcastBytes });
    }
  }

  /** The room sent a frame of this size to every socket. */
  broadcast(bytes: number): void {
    this.broadcastBytes += bytes;
  }

  /** The socket closed (or failed): it is never looked at again. */
  forget(id: string): void {
    this.heard.delete(id);
  }

  get size(): number {
    return this.heard.size;
  }

  /**
   * The sockets to close now, at most once per `everyMs` (otherwise none). A socket returned is
   * forgotten: it is asked about once.
   */
  due(now: number): string[] {
    if (now - this.lastSweep < this.options.everyMs) return [];
    this.lastSweep = now;
    const { idleMs, minBytes } = this.options;
    const idle: string[] = [];
    for (const [id, { at, mark }] of this.heard) {
      if (now - at >= idleMs && this.broadcastBytes - mark >= minBytes) idle.push(id);
    }
    for (const id of idle) this.heard.delete(id);
    return idle;
  }
}
