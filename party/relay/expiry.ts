/**
 * Viewers' token expiry on a relay (PROTOCOL R56): as in rooms (adapters/token-expiry.ts, PROTOCOL R19), at a viewer's
 * token `exp` it is told `session_expired` and closed 4002 a grace period later, whether or not it sends
 * anything. The deadlines are the room's own queue; the one timer is per relay (set for the earliest
 * deadline only), never per viewer. A relay is kept awake by its subscription to the room, so the timer
 * lives as long as its viewers; a relay woken with hibernated viewers re-reads their deadlines.
 */
import type * as Party from "partykit/server";
import { TokenExpiry } from "../adapters/token-expiry.ts";
import type { Viewer, ViewerState } from "./viewers.ts";

export class RelayExpiry {
  private readonly expiry: TokenExpiry<ViewerState>;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private at = Infinity;

  constructor(room: Party.Room, cutOff: (conn: Viewer, code: number, reason: string) => void) {
    this.expiry = new TokenExpiry({
      room,
      wakeAt: (at) => this.wakeAt(at),
      cutOff,
    });
  }

  watch(conn: Viewer): void {
    this.expiry.watch(conn);
  }

  /** After a wake with hibernated viewers: every open viewer's deadline again. */
  reindex(): void {
    this.expiry.reindex();
  }

  private wakeAt(at: number): void {
    if (this.timer && at >= this.at) return;
    if (this.timer) clearTimeout(this.timer);
    this.at = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.at = Infinity;
      this.expiry.fire();
    }, Math.max(0, at - Date.now()));
  }
}
