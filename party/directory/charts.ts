/**
 * The dashboard's overview and chart history, kept by the directory from the reports it already receives
 * (pure: entries and clock come in). Server-side rather than sampled by the page, so a reload, a second
 * operator or a laptop that slept all see the last minutes at once; it costs the directory a few numbers
 * per slot and the rooms nothing. It lives in memory: a directory restart starts the charts afresh (the
 * room list itself is durable, party/directory/server.ts).
 *
 * Totals are kept incrementally (take out a room's previous report, add its new one), so a report costs
 * O(its error codes), never O(rooms).
 */
import { ChartRing, type ChartGauges } from "../core/chart-ring.ts";
import { ACK_LATENCY_BUCKETS_MS, countsSince } from "../core/histogram.ts";
import type { ChartSeries, Overview, RoomEntry } from "../protocol/admin-schema.ts";

export type ChartSettings = {
  slotMs: number;
  windowMs: number;
  /** Rooms with a chart of their own, most recently reported first; the rest start one when they next report. */
  maxRooms: number;
};

/** One slot per report interval (at least a second), ten minutes, 256 rooms. */
export function chartSettings(reportIntervalMs: number): ChartSettings {
  return { slotMs: Math.max(1000, reportIntervalMs), windowMs: 10 * 60_000, maxRooms: 256 };
}

export class DirectoryCharts {
  private readonly totals = { rooms: 0, connections: 0, observers: 0, messagesPerSecond: 0, archiveLag: 0, reportFailures: 0 };
  private readonly errors = new Map<string, number>();
  private readonly system: ChartRing;
  /** Insertion order is report order: the first key is the room reported least recently. */
  private readonly rooms = new Map<string, ChartRing>();
  private readonly capacity: number;

  constructor(private readonly settings: ChartSettings) {
    this.capacity = Math.max(1, Math.round(settings.windowMs / settings.slotMs));
    this.system = this.ring();
  }

  /** The entries the directory loaded at start: into the totals, no history (none was kept). */
  load(entries: Iterable<RoomEntry>): void {
    for (const entry of entries) this.add(entry);
  }

  /** A room's report replaced `previous` (undefined for a room new to the directory). */
  report(previous: RoomEntry | undefined, next: RoomEntry, now: number): void {
    if (previous) this.remove(previous);
    this.add(next);
    const sameProcess = previous?.bootId === next.bootId;
    const latency = countsSince(previous?.ackLatency, next.ackLatency, sameProcess);
    const errorsNow = sum(Object.values(next.errors));
    const errorsBefore = previous && sameProcess ? sum(Object.values(previous.errors)) : 0;
    const errors = Math.max(0, errorsNow - errorsBefore);
    this.system.record(now, this.gauges(), latency, errors);
    let ring = this.rooms.get(next.room);
    if (ring) this.rooms.delete(next.room);
    else ring = this.ring();
    this.rooms.set(next.room, ring);
    ring.record(now, gaugesOf(next), latency, errors);
    if (this.rooms.size > this.settings.maxRooms) this.rooms.delete(this.rooms.keys().next().value!);
  }

  /** PROTOCOL R81: the directory dropped this room past its bound: out of the totals, its chart gone. */
  evicted(entry: RoomEntry): void {
    this.remove(entry);
    this.rooms.delete(entry.room);
  }

  overview(now: number): Overview {
    const t = this.totals;
    const errors = Object.fromEntries([...this.errors].filter(([, n]) => n > 0).sort(([a], [b]) => a.localeCompare(b)));
    return {
      rooms: t.rooms,
      connections: t.connections,
      observers: t.observers,
      messagesPerSecond: Math.max(0, Math.round(t.messagesPerSecond * 100) / 100),
      archiveLag: t.archiveLag,
      reportFailures: t.reportFailures,
      errorsTotal: sum(Object.values(errors)),
      errors,
      at: now,
    };
  }

  /**
   * The whole system (`room` undefined) or one room. A room the directory knows but has no chart for yet
   * (quiet since the directory started, or pushed out by busier rooms) starts one at its last report.
   */
  series(room: string | undefined, entry: RoomEntry | undefined, now: number): ChartSeries {
    let ring = this.system;
    if (room !== undefined) {
      ring = this.rooms.get(room) ?? this.ring();
      if (!this.rooms.has(room) && entry) {
        ring.record(now, gaugesOf(entry), undefined, 0);
        this.rooms.set(room, ring);
        if (this.rooms.size > this.settings.maxRooms) this.rooms.delete(this.rooms.keys().next().value!);
      }
    }
    return { room: room ?? null, slotMs: this.settings.slotMs, windowMs: this.capacity * this.settings.slotMs, ...ring.read(now) };
  }

  private ring(): ChartRing {
    return new ChartRing(this.settings.slotMs, this.capacity, ACK_LATENCY_BUCKETS_MS);
  }

  private gauges(): ChartGauges {
    const t = this.totals;
    return { connections: t.connections, messagesPerSecond: Math.max(0, t.messagesPerSecond), archiveLag: t.archiveLag };
  }

  private add(entry: RoomEntry): void {
    this.apply(entry, 1);
  }

  private remove(entry: RoomEntry): void {
    this.apply(entry, -1);
  }

  private apply(e: RoomEntry, sign: 1 | -1): void {
    const t = this.totals;
    t.rooms += sign;
    t.connections += sign * e.connections;
    t.observers += sign * e.observers;
    t.messagesPerSecond += sign * e.messagesPerSecond;
    t.archiveLag += sign * e.archiveLag;
    t.reportFailures += sign * e.reportFailures;
    for (const [code, n] of Object.entries(e.errors)) this.errors.set(code, (this.errors.get(code) ?? 0) + sign * n);
  }
}

function gaugesOf(entry: RoomEntry): ChartGauges {
  return { connections: entry.connections, messagesPerSecond: entry.messagesPerSecond, archiveLag: entry.archiveLag };
}

function sum(values: number[]): number {
  return values.reduce((total, n) => total + n, 0);
}
