/**
 * A relay's live frames, gathered (PROTOCOL R54): the room sends one `events` frame per committed batch;
 * a relay holding thousands of viewers pays the runtime's per-frame cost once per viewer per frame, so it
 * gathers what waits into ONE `events` frame (the events spliced together as the room serialised them, in seq
 * order), sent `ms` after the first waiting event's commit and serialised once for all its viewers. One timer
 * per relay, set only while frames wait; no per-viewer state. The merged frame is a plain `events` frame: clients
 * sequence it like any other (PROTOCOL I1, I5), so resume by (epoch, lastSeq) is unchanged.
 */
import type { RoomEvent } from "../protocol/index.ts";

const PREFIX = '{"type":"events","events":[';
const SUFFIX = "]}";
/** A gathered frame is handed on early once it holds this many characters or events. */
const MAX_CHARS = 256 * 1024;
const MAX_EVENTS = 1_000;

export type Gathered = { from: number; to: number; frame: string; events: RoomEvent[] };

export class Coalescer {
  private parts: string[] = [];
  private events: RoomEvent[] = [];
  private chars = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private flushedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly ms: number,
    private readonly deliver: (gathered: Gathered) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** The last seq waiting here, if any (the relay's position counts it: a frame at or below it is not news). */
  get last(): number | undefined {
    return this.events.length > 0 ? this.events[this.events.length - 1]!.seq : undefined;
  }

  /**
   * A frame from the room. A plain live frame waits (the first one starts the timer); any other shape (a
   * replay, extras) goes on at once, after whatever waits, so order is kept.
   */
  add(frame: string, events: RoomEvent[]): void {
    const plain = frame.startsWith(PREFIX) && frame.endsWith(SUFFIX);
    if (this.ms <= 0 || !plain) {
      this.flush();
      return this.deliver({ from: events[0]!.seq, to: events[events.length - 1]!.seq, frame, events });
    }
    this.parts.push(frame.slice(PREFIX.length, frame.length - SUFFIX.length));
    for (const event of events) this.events.push(event);
    this.chars += frame.length;
    if (this.chars >= MAX_CHARS || this.events.length >= MAX_EVENTS) return this.flush();
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.delay(events[0]!.ts));
  }

  /**
   * When what waits goes on: `ms` after the first waiting event's commit, so no event waits here longer than
   * the window from its commit.
   * - From the commit, not from when this relay got to read the frame: a relay busy broadcasting reads the
   *   room's next frames late, and a window counted from then would add that busy time to every viewer's
   *   wait (20,000 viewers on a 2-core box, a 600 ms window: a frame every ~1.1 s and p99 1.3-1.5 s; counted
   *   from the commit, a frame every ~0.6 s and p99 0.9-1.2 s; bench/RESULTS.md).
   * - At most `ms` from now: a clock skewed against the room's never makes a viewer wait longer.
   * - Never sooner than half a window after the last flush: a relay too busy to keep up sends fewer, larger
   *   frames instead of one per room frame, which would only make it busier.
   */
  private delay(committed: number): number {
    const now = this.now();
    // An event without a usable commit time (never from the room: its schema requires one) waits from now.
    const from = Number.isFinite(committed) ? committed : now;
    const due = Math.max(from + this.ms, this.flushedAt + this.ms / 2);
    return Math.min(this.ms, Math.max(0, due - now));
  }

  /** Hands on what waits, as one frame (a single frame goes on exactly as the room sent it). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.events.length === 0) return;
    this.flushedAt = this.now();
    const frame = PREFIX + this.parts.join(",") + SUFFIX;
    const events = this.events;
    this.parts = [];
    this.events = [];
    this.chars = 0;
    this.deliver({ from: events[0]!.seq, to: events[events.length - 1]!.seq, frame, events });
  }

  /** Forgets what waits (the stream the relay followed is gone: its viewers resync). */
  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.parts = [];
    this.events = [];
    this.chars = 0;
  }
}
