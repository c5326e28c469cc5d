/**
 * PROTOCOL R80: an actor (a room, an inbox) closes sockets that stopped reading. The runtime queues whatever an
 * actor sends to a socket whose peer does not read, without bound and without telling the actor (no
 * `bufferedAmount`; measured: 256 MB for one socket). The reference client is heard from at least every two
 * ping intervals whatever it receives (PROTOCOL R12), so a socket silent for `idleCloseMs` while the actor
 * broadcast `idleCloseBytes` since is dead or not reading: the actor closes it with 4014 `not_reading`
 * (retryable) and releases it at once, as if it had failed, since its peer may never answer the close.
 *
 * The decision is the pure `core/idle-sweep.ts`; this part feeds it (admissions, every inbound frame, every
 * broadcast) and asks it only when the actor broadcasts: an actor that sends nothing grows no queue.
 */
import type * as Party from "partykit/server";
import { LIMITS } from "../protocol/index.ts";
import { IdleSweep } from "../core/idle-sweep.ts";
import type { TestSwitches } from "../config.ts";

export interface IdleSocketsHost<C extends Party.Connection> {
  connections(): Iterable<C>;
  connection(id: string): C | undefined;
  /** A socket the sweep watches: an admitted client's (not a refused one, not the actor's own relay). */
  watched(conn: C): boolean;
  /** Closes the socket with 4014 and releases everything it held. */
  drop(conn: C): void;
}

export class IdleSockets<C extends Party.Connection> {
  private readonly sweep: IdleSweep;
  /** Sockets closed for not reading since the actor started (the room's stats `work.notReadingClosed`). */
  closed = 0;

  constructor(
    private readonly host: IdleSocketsHost<C>,
    test: TestSwitches,
  ) {
    // Test switches shorten the sweep so an integration test sees it (party/test-switches.ts).
    this.sweep = new IdleSweep({
      idleMs: test.idleCloseMs || LIMITS.idleCloseMs,
      minBytes: test.idleCloseBytes || LIMITS.idleCloseBytes,
      everyMs: test.idleSweepMs || LIMITS.idleSweepMs,
    });
  }

  /** A socket was admitted or sent a frame: its silence starts again. */
  heard(conn: C): void {
    if (this.host.watched(conn)) this.sweep.heardFrom(conn.id, Date.now());
  }

  /** The same, for a socket the caller already knows is watched (the hot path: no second state read). */
  heardWatched(id: string): void {
    this.sweep.heardFrom(id, Date.now());
  }

  /**
   * After a wake from hibernation the sockets are still open but this memory is new: each counts as heard
   * now, so a silent one is closed one `idleCloseMs` of broadcasting later, never at once.
   */
  reindex(): void {
    for (const conn of this.host.connections()) this.heard(conn);
  }

  forget(id: string): void {
    this.sweep.forget(id);
  }

  /** The actor sent `frame` to its sockets: counted, and at most once per `idleSweepMs` the silent ones go. */
  broadcast(frame: string): void {
    this.sweep.broadcast(frame.length);
    for (const id of this.sweep.due(Date.now())) {
      const conn = this.host.connection(id);
      if (!conn) continue;
      this.closed++;
      this.host.drop(conn);
    }
  }
}
