/**
 * How a relay shard reports its viewer count to the room (`relay.count`, PROTOCOL R52): at most once a
 * second, and only after something changed (a viewer came, went or was cut off), so a crowd arriving at
 * once costs the room one frame a second per shard, not one per viewer.
 */
import type { RelayCountFrame } from "../protocol/index.ts";

/** How often at most a relay tells the room its viewer count (PROTOCOL R52). */
const COUNT_EVERY_MS = 1_000;

export interface ViewerCountHost {
  /** The viewers that count now: admitted and not cut off. */
  viewers(): number;
  /** Sends the frame up the subscription (dropped while there is none: the next welcome reports again). */
  send(frame: RelayCountFrame): void;
}

export class ViewerCount {
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly host: ViewerCountHost) {}

  /** Something changed: the room hears the count within a second (one report for every change meanwhile). */
  soon(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.now();
    }, COUNT_EVERY_MS);
  }

  /** The room hears the count now (a new subscription: the room knows nothing of this shard's viewers yet). */
  now(): void {
    this.host.send({ type: "relay.count", viewers: this.host.viewers() });
  }
}
