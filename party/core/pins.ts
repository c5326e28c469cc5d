/**
 * A room's pinned messages (PROTOCOL R24): room state changed only by sequenced `pin` events, stored whole under
 * one key (`pins`, at most maxPinsPerRoom entries, a few KiB) in the same batch as the event, and loaded
 * with the room, so the welcome and HTTP reads list them without reading the log.
 */
import { LIMITS, type Pin, type RoomEvent } from "../protocol/index.ts";
import type { Rejection } from "./rejection.ts";

export class Pins {
  /** As decided (pending pins included): what the next command is decided on. */
  private readonly pins: Pin[];
  /** As durable: what readers see (welcome, HTTP), PROTOCOL I2. */
  private readonly durable: Pin[];

  constructor(stored: Pin[] | undefined) {
    this.pins = [...(stored ?? [])];
    this.durable = [...this.pins];
  }

  list(): Pin[] {
    return this.pins.map((pin) => ({ ...pin }));
  }

  /** The pins readers may see: only what durable events made. */
  committed(): Pin[] {
    return this.durable.map((pin) => ({ ...pin }));
  }

  /**
   * A durable event: a pin, an unpin or a deletion (which unpins its target) changes what readers see from
   * now on; any other event, nothing. The room calls it as its batches commit, a relay as events pass.
   */
  commit(event: RoomEvent): void {
    if (event.kind === "pin") change(this.durable, event.target, event.action === "unpin", event.author.id, event.ts);
    if (event.kind === "delete") change(this.durable, event.target, true, event.author.id, event.ts);
  }

  has(seq: number): boolean {
    return this.pins.some((pin) => pin.seq === seq);
  }

  /** Refuses what would change nothing or overflow the room's bound; the caller checked role and target. */
  refuse(seq: number, remove: boolean): Rejection | undefined {
    if (remove) return this.has(seq) ? undefined : { code: "no_change", message: `Message ${seq} is not pinned.` };
    if (this.has(seq)) return { code: "no_change", message: `Message ${seq} is already pinned.` };
    if (this.pins.length >= LIMITS.maxPinsPerRoom) return { code: "limit_reached", message: `A room holds at most ${LIMITS.maxPinsPerRoom} pins.` };
    return undefined;
  }

  /** Applies an accepted pin or unpin (or the unpin a deletion implies); returns the value to store. */
  apply(seq: number, remove: boolean, by: string, ts: number): Pin[] {
    change(this.pins, seq, remove, by, ts);
    return this.list();
  }
}

function change(pins: Pin[], seq: number, remove: boolean, by: string, ts: number): void {
  const at = pins.findIndex((pin) => pin.seq === seq);
  if (remove && at >= 0) pins.splice(at, 1);
  if (!remove && at < 0) pins.push({ seq, by, ts });
}
