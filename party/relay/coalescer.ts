/**
 * A relay's live frames, gathered (PROTOCOL R54): the room sends one `events` frame per committed batch;
 * a relay holding thousands of viewers pays the runtime's per-frame cost once per viewer per frame, so it
 * gathers what arrives within `ms` of the first frame into ONE `events` frame (the events spliced together
 * as the room serialised them, in seq order), serialised once for all its viewers. One timer per relay,
 * set only while frames wait; no per-viewer state. The merged frame is a plain `events` frame: clients
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

  constructor(
    private readonly ms: number,
    private readonly deliver: (gathered: Gathered) => void,
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
    }, this.ms);
  }

  /** Hands on what waits, as one frame (a single frame goes on exactly as the room sent it). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.events.length === 0) return;
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
