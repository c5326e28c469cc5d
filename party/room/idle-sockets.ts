/**
 * PROTOCOL R80: the room closes sockets that stopped reading. The runtime queues whatever the room sends to a
 * socket whose peer does not read, without bound and without telling the room (no `bufferedAmount`; measured:
 * 256 MB for one socket). The reference client is heard from at least every two ping intervals whatever it
 * receives (PROTOCOL R12), so a socket silent for `idleCloseMs` while the room broadcast `idleCloseBytes`
 * since is dead or not reading: it is closed with 4014 `not_reading` (retryable) and released at once, as if
 * it had failed, since its peer may never answer the close.
 *
 * The decision is the pure `core/idle-sweep.ts`; this part feeds it (admissions, every inbound frame, every
 * broadcast) and asks it only when the room broadcasts: a room that sends nothing grows no queue.
 * The room's own relays (PROTOCOL R52) are not swept: they are kaiwa's actors, not clients.
 */
import type * as Party from "partykit/server";
import { LIMITS } from "../protocol/index.ts";
import { IdleSweep } from "../core/idle-sweep.ts";
import type { TestSwitches } from "../config.ts";
import type { Conn, ConnState } from "./types.ts";

export interface IdleSocketsHost {
  readonly room: Party.Room;
  /** Closes the socket with 4014 and releases everything it held (presence, buffers, pending ids). */
  drop(conn: Conn): void;
}

export class RoomIdleSockets {
  private readonly sweep: IdleSweep;
  /** Sockets closed for not reading since the room started (stats `work.notReadingClosed`). */
  closed = 0;

  constructor(
    private readonly host: IdleSocketsHost,
    test: TestSwitches,
  ) {
    // Test switches shorten the sweep so an integration test sees it (party/test-switches.ts).
    this.sweep = new IdleSweep({
      idleMs: test.idleCloseMs || LIMITS.idleCloseMs,
      minBytes: test.idleCloseBytes || LIMITS.idleCloseBytes,
      everyMs: test.idleSweepMs || LIMITS.idleSweepMs,
    });
  }

  /** A socket was admitted (it has its state) or sent a frame: the silence starts again. */
  heard(conn: Conn, state: ConnState | null | undefined = conn.state): void {
    if (state && state.relay === undefined) this.sweep.heardFrom(conn.id, Date.now());
  }

  /**
   * After a wake from hibernation the sockets are still open but this memory is new: each counts as heard
   * now, so a silent one is closed one `idleCloseMs` of broadcasting later, never at once.
   */
  reindex(): void {
    for (const conn of this.host.room.getConnections<ConnState>()) this.heard(conn);
  }

  forget(id: string): void {
    this.sweep.forget(id);
  }

  /** The room sent `frame` to its sockets: counted, and at most once per `idleSweepMs` the silent ones go. */
  broadcast(frame: string): void {
    this.sweep.broadcast(frame.length);
    const due = this.sweep.due(Date.now());
    for (const id of due) {
      const conn = this.host.room.getConnection<ConnState>(id);
      if (!conn) continue;
      this.closed++;
      this.host.drop(conn);
    }
  }
}
