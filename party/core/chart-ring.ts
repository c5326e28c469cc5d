/**
 * A bounded ring of fixed time slots for the dashboard's charts (pure: the clock comes in as `now`).
 *
 * The directory only learns something when a room reports, so a slot holds the state as of the last
 * report before its end: the gauges (connections, msgs/s, archive lag) carry forward into slots without a
 * report, because nothing changed there (a room's rate falls to 0 in a report of its own, see
 * adapters/directory-reporter.ts). What happened inside a slot (acks and their latency, errors) is added
 * up per slot; a slot without reports had none, so its latency is a gap, not a zero.
 *
 * A slot's latency buckets are turned into p50/p99 when the slot closes, so a closed slot is a few numbers
 * whatever the traffic was; only the open slot keeps bucket counts.
 */
import { quantileMs } from "./histogram.ts";

export type ChartGauges = { connections: number; messagesPerSecond: number; archiveLag: number };

/** Column arrays, oldest first, as uPlot takes them; `t` is each slot's start in ms. */
export type ChartColumns = {
  t: number[];
  connections: number[];
  messagesPerSecond: number[];
  errorsPerSecond: number[];
  ackP50Ms: Array<number | null>;
  ackP99Ms: Array<number | null>;
  archiveLag: number[];
};

type Slot = {
  t: number;
  gauges: ChartGauges;
  errors: number;
  /** Latency bucket counts while the slot is open; undefined when no ack landed in it. */
  counts: number[] | undefined;
  p50: number | null;
  p99: number | null;
};

const ZERO: ChartGauges = { connections: 0, messagesPerSecond: 0, archiveLag: 0 };

export class ChartRing {
  private readonly slots: Slot[] = [];

  constructor(
    readonly slotMs: number,
    /** How many slots are kept: the window is `capacity × slotMs`. */
    readonly capacity: number,
    private readonly bucketsMs: readonly number[],
  ) {
    if (!(slotMs > 0) || !(capacity >= 1)) throw new Error("ChartRing: slotMs and capacity must be positive");
  }

  /** A report at `now`: the gauges as of now, the latency bucket counts and the errors since the last one. */
  record(now: number, gauges: ChartGauges, latencyCounts: readonly number[] | undefined, errors: number): void {
    const slot = this.advance(now);
    slot.gauges = { ...gauges };
    slot.errors += errors;
    if (latencyCounts && latencyCounts.some((n) => n > 0)) {
      const counts = (slot.counts ??= new Array<number>(latencyCounts.length).fill(0));
      latencyCounts.forEach((n, i) => (counts[i] = (counts[i] ?? 0) + n));
    }
  }

  /** The window up to the slot holding `now` (so an idle system's chart still moves on). */
  read(now: number): ChartColumns {
    if (this.slots.length > 0) this.advance(now);
    const columns: ChartColumns = { t: [], connections: [], messagesPerSecond: [], errorsPerSecond: [], ackP50Ms: [], ackP99Ms: [], archiveLag: [] };
    const seconds = this.slotMs / 1000;
    for (const slot of this.slots) {
      const open = slot.counts !== undefined;
      columns.t.push(slot.t);
      columns.connections.push(slot.gauges.connections);
      columns.messagesPerSecond.push(round(slot.gauges.messagesPerSecond));
      columns.errorsPerSecond.push(round(slot.errors / seconds));
      columns.ackP50Ms.push(open ? this.quantile(slot.counts!, 0.5) : slot.p50);
      columns.ackP99Ms.push(open ? this.quantile(slot.counts!, 0.99) : slot.p99);
      columns.archiveLag.push(slot.gauges.archiveLag);
    }
    return columns;
  }

  /** The slot `now` falls in, opening it (and carrying the gauges through any slots between) if need be. */
  private advance(now: number): Slot {
    const t = Math.floor(now / this.slotMs) * this.slotMs;
    const last = this.slots.at(-1);
    // Same slot, or a clock that stepped back: keep adding to the newest slot.
    if (last && t <= last.t) return last;
    if (last) this.close(last);
    const gauges = last?.gauges ?? ZERO;
    // A long silence fills at most the window, not every slot since.
    const first = last ? Math.max(last.t + this.slotMs, t - (this.capacity - 1) * this.slotMs) : t;
    for (let s = first; s <= t; s += this.slotMs) this.slots.push({ t: s, gauges, errors: 0, counts: undefined, p50: null, p99: null });
    if (this.slots.length > this.capacity) this.slots.splice(0, this.slots.length - this.capacity);
    return this.slots.at(-1)!;
  }

  private close(slot: Slot): void {
    if (!slot.counts) return;
    slot.p50 = this.quantile(slot.counts, 0.5);
    slot.p99 = this.quantile(slot.counts, 0.99);
    slot.counts = undefined;
  }

  private quantile(counts: number[], q: number): number | null {
    const value = quantileMs(this.bucketsMs, counts, q);
    return value === undefined ? null : round(value);
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
