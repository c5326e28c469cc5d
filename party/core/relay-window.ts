/**
 * A relay shard's recent window of a live room's log (PROTOCOL R52): the `events` frames it forwarded, each
 * kept as the one string the room serialised, by the seq range it carries. Viewers resuming on the relay
 * are replayed from here, so a resume never reaches the room. Bounded by events and by bytes; the oldest
 * frames go first. Pure: plain data, no runtime.
 */
export type WindowFrame = { from: number; to: number; frame: string };

export class RelayWindow {
  private frames: WindowFrame[] = [];
  private head = 0;
  private bytes = 0;
  /** The stream's epoch and the last seq held (the relay's position in the room's log). */
  epoch = "";
  last = 0;

  constructor(private readonly maxEvents: number, private readonly maxBytes: number) {}

  /** A new stream position with nothing held (a first subscription, or after the stream changed). */
  reset(epoch: string, last: number): void {
    this.frames = [];
    this.head = 0;
    this.bytes = 0;
    this.epoch = epoch;
    this.last = last;
  }

  /** The first seq the window can replay from: `first() - 1` is the oldest position it serves. */
  first(): number {
    return this.head < this.frames.length ? this.frames[this.head]!.from : this.last + 1;
  }

  get size(): number {
    return this.last - this.first() + 1;
  }

  /** Appends a frame of events `from..to` that follows what is held; a frame wholly at or below `last` is not news. */
  append(from: number, to: number, frame: string): boolean {
    if (to <= this.last) return false;
    this.frames.push({ from, to, frame });
    this.bytes += frame.length;
    this.last = to;
    this.trim();
    return true;
  }

  /**
   * Older events fetched from the room (history pages, stored records) in front of what is held: `frames`
   * ascending, ending right below `first()`. Kept only while the window has room for them.
   */
  prepend(frames: WindowFrame[]): void {
    const kept = this.frames.slice(this.head);
    this.frames = [...frames, ...kept];
    this.head = 0;
    this.bytes = this.frames.reduce((sum, f) => sum + f.frame.length, 0);
    this.trim();
  }

  /** Whether a viewer at `lastSeq` can be replayed from here alone. */
  covers(lastSeq: number): boolean {
    return lastSeq >= this.first() - 1 && lastSeq <= this.last;
  }

  /** The frames a viewer at `lastSeq` is missing (the first may overlap it: clients drop seqs they have, PROTOCOL R7). */
  since(lastSeq: number): string[] {
    const out: string[] = [];
    for (let i = this.head; i < this.frames.length; i++) if (this.frames[i]!.to > lastSeq) out.push(this.frames[i]!.frame);
    return out;
  }

  private trim(): void {
    while (this.head < this.frames.length - 1 && (this.last - this.frames[this.head]!.from + 1 > this.maxEvents || this.bytes > this.maxBytes)) {
      this.bytes -= this.frames[this.head]!.frame.length;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.frames.length) {
      this.frames = this.frames.slice(this.head);
      this.head = 0;
    }
  }
}
