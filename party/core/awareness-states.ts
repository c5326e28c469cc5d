/**
 * A room's awareness states (PROTOCOL R73, R74): clientID -> { clock, state, owning socket, user }, kept by
 * the room itself rather than by y-protocols' `Awareness` (whose constructor starts an interval that would
 * keep the room awake). Nothing here is stored; a restarted room learns the states again from the clients'
 * renewals (`awarenessRenewMs`).
 *
 * - Ownership: a socket owns the clientIDs it first named (at most `maxAwarenessClientsPerSocket`); an
 *   update naming a clientID another socket owns is refused whole.
 * - Identity: the room stamps `user: {id, name}` from the token into every state, over whatever the client
 *   wrote there, so nobody appears as someone else (PROTOCOL I7).
 * - Clocks: the room is the one writer peers hear, so it numbers each clientID's states itself, strictly
 *   increasing (never below the client's own clock), and remembers removed clientIDs' clocks
 *   (`maxAwarenessTombstones`) so a client coming back with its old clock is still newer to every peer.
 * - Batching: changes wait for the next flush (at most one per `windowMs`); a flush sends each changed
 *   clientID's latest state once, in as few frames as `awarenessFrameBytes` allows, to every socket.
 *
 * Pure: time, timers and sending come in through the port. No interval: a timer runs only while a change
 * waits, so an idle room can sleep.
 */
import { LIMITS } from "../protocol/limits.ts";
import { EarliestTimer } from "./earliest-timer.ts";
import { awarenessFrame } from "../protocol/awareness.ts";
import type { AwarenessEntry } from "../protocol/awareness.ts";

export type AwarenessPort = {
  now(): number;
  schedule(fn: () => void, ms: number): void;
  broadcast(frame: Uint8Array): void;
};

/** Why an update was refused (nothing of it was applied). */
export type AwarenessRefusal = { code: "forbidden" | "limit_reached" | "frame_too_large"; message: string };

type Live = { clock: number; json: string; socket: string; user: string };
type Encoded = { clientID: number; clock: number; json: string };

const utf8 = new TextEncoder();

export class AwarenessStates {
  private readonly live = new Map<number, Live>();
  /** Removed clientIDs and their last clock, oldest first (a Map keeps insertion order). */
  private readonly tombstones = new Map<number, number>();
  private readonly bySocket = new Map<string, Set<number>>();
  /** clientIDs changed since the last flush: their latest state (or removal) goes out once. */
  private readonly dirty = new Set<number>();
  /** clientIDs renewed (same state, new clock) since the last flush: they wait up to `awarenessRenewBatchMs`. */
  private readonly renewed = new Set<number>();
  private lastFlush = -Infinity;
  private lastRenewal = -Infinity;
  private readonly timer: EarliestTimer;
  readonly counters = { updates: 0, refused: 0, flushes: 0, frames: 0 };

  constructor(
    private readonly port: AwarenessPort,
    private readonly windowMs: number,
  ) {
    this.timer = new EarliestTimer(port, () => this.flush());
  }

  /** Live states now. */
  get size(): number {
    return this.live.size;
  }

  /** Whether a socket owns any clientID. */
  owns(socket: string): boolean {
    return this.bySocket.has(socket);
  }

  /**
   * An update from `socket`, whose user is `who`: all of it, or nothing and the refusal. A null state for a
   * clientID nobody owns changes nothing (already gone).
   */
  apply(socket: string, who: { id: string; name: string }, entries: readonly AwarenessEntry[]): AwarenessRefusal | undefined {
    const owned = this.bySocket.get(socket);
    let adding = 0;
    const stamped: Array<string | null> = [];
    for (const entry of entries) {
      const current = this.live.get(entry.clientID);
      if (current && current.socket !== socket) return this.refuse("forbidden", `clientID ${entry.clientID} belongs to another connection.`);
      if (entry.state === null) {
        stamped.push(null);
        continue;
      }
      if (!current && !entries.slice(0, stamped.length).some((e) => e.clientID === entry.clientID)) adding++;
      // The room's identity wins over the client's claim (PROTOCOL I7); the rest is the app's.
      const json = JSON.stringify({ ...entry.state, user: { id: who.id, name: who.name } });
      if (json.length > LIMITS.maxAwarenessStateBytes || utf8.encode(json).length > LIMITS.maxAwarenessStateBytes) {
        return this.refuse("frame_too_large", `An awareness state is at most ${LIMITS.maxAwarenessStateBytes} bytes of JSON (with the user the room adds).`);
      }
      stamped.push(json);
    }
    if ((owned?.size ?? 0) + adding > LIMITS.maxAwarenessClientsPerSocket) {
      return this.refuse("limit_reached", `One connection owns at most ${LIMITS.maxAwarenessClientsPerSocket} awareness clientIDs.`);
    }
    if (this.live.size + adding > LIMITS.maxAwarenessStatesPerRoom) {
      return this.refuse("limit_reached", `A room holds at most ${LIMITS.maxAwarenessStatesPerRoom} awareness states.`);
    }
    this.counters.updates++;
    entries.forEach((entry, i) => {
      const json = stamped[i]!;
      if (json === null) return this.remove(entry.clientID, entry.clock);
      const clock = Math.max(this.lastClock(entry.clientID) + 1, entry.clock);
      const unchanged = this.live.get(entry.clientID)?.json === json;
      this.tombstones.delete(entry.clientID);
      this.live.set(entry.clientID, { clock, json, socket, user: who.id });
      let set = this.bySocket.get(socket);
      if (!set) this.bySocket.set(socket, (set = new Set()));
      set.add(entry.clientID);
      if (unchanged && !this.dirty.has(entry.clientID)) this.renewed.add(entry.clientID);
      else {
        this.renewed.delete(entry.clientID);
        this.dirty.add(entry.clientID);
      }
    });
    this.arm();
    return undefined;
  }

  /** The socket closed (or was closed): its clientIDs go, in the next flush. */
  socketClosed(socket: string): void {
    const owned = this.bySocket.get(socket);
    if (!owned) return;
    for (const clientID of [...owned]) this.remove(clientID, 0);
    this.arm();
  }

  /** Every live state, as frames (for a joining socket and query-awareness): nothing when there is none. */
  snapshot(): Uint8Array[] {
    return this.frames([...this.live].map(([clientID, { clock, json }]) => ({ clientID, clock, json })));
  }

  /** Users holding a live state, for stats and tests. */
  users(): string[] {
    return [...new Set([...this.live.values()].map((l) => l.user))].sort();
  }

  private remove(clientID: number, clientClock: number): void {
    const current = this.live.get(clientID);
    if (!current) return;
    this.live.delete(clientID);
    const set = this.bySocket.get(current.socket);
    set?.delete(clientID);
    if (set?.size === 0) this.bySocket.delete(current.socket);
    this.tombstones.set(clientID, Math.max(current.clock + 1, clientClock));
    while (this.tombstones.size > LIMITS.maxAwarenessTombstones) this.tombstones.delete(this.tombstones.keys().next().value!);
    this.renewed.delete(clientID);
    this.dirty.add(clientID);
  }

  private lastClock(clientID: number): number {
    return this.live.get(clientID)?.clock ?? this.tombstones.get(clientID) ?? 0;
  }

  private refuse(code: AwarenessRefusal["code"], message: string): AwarenessRefusal {
    this.counters.refused++;
    return { code, message };
  }

  /** One timer at a time, at the earliest moment something is due; an earlier need supersedes a later timer. */
  private arm(): void {
    const now = this.port.now();
    const windowOpens = Math.max(now, this.lastFlush + this.windowMs);
    let at: number;
    if (this.dirty.size > 0) at = windowOpens;
    else if (this.renewed.size > 0) at = Math.max(windowOpens, this.lastRenewal + LIMITS.awarenessRenewBatchMs);
    else return;
    this.timer.armAt(at);
  }

  private flush(): void {
    if (this.dirty.size === 0 && this.renewed.size === 0) return;
    this.lastFlush = this.port.now();
    this.counters.flushes++;
    const changed: Encoded[] = [];
    for (const clientID of this.dirty) {
      const live = this.live.get(clientID);
      if (live) changed.push({ clientID, clock: live.clock, json: live.json });
      else changed.push({ clientID, clock: this.tombstones.get(clientID) ?? 1, json: "null" });
    }
    // Renewals ride along with any flush; a flush of renewals alone comes at most every awarenessRenewBatchMs.
    if (this.renewed.size > 0) this.lastRenewal = this.lastFlush;
    for (const clientID of this.renewed) {
      const live = this.live.get(clientID);
      if (live) changed.push({ clientID, clock: live.clock, json: live.json });
    }
    this.dirty.clear();
    this.renewed.clear();
    for (const frame of this.frames(changed)) {
      this.counters.frames++;
      this.port.broadcast(frame);
    }
  }

  /** Entries into frames of about `awarenessFrameBytes` each (one frame in every common case). */
  private frames(entries: Encoded[]): Uint8Array[] {
    const out: Uint8Array[] = [];
    let chunk: Encoded[] = [];
    let bytes = 0;
    for (const entry of entries) {
      if (chunk.length > 0 && bytes + entry.json.length > LIMITS.awarenessFrameBytes) {
        out.push(awarenessFrame(chunk));
        chunk = [];
        bytes = 0;
      }
      chunk.push(entry);
      bytes += entry.json.length + 16;
    }
    if (chunk.length > 0) out.push(awarenessFrame(chunk));
    return out;
  }
}
