/**
 * PROTOCOL R3b: the watchdog over the room's one write in flight. One timer while a write is in flight
 * (none when idle, so it keeps no room awake); a write that has not settled by then is given up as
 * failed, and the room says so in its log and stats.
 */
export class WriteWatch {
  /**
   * When the write now in flight was handed to storage: a slow write shows in stats as its age. One that
   * never confirms shows as stats not answering, since the output gate holds every response behind it.
   */
  private startedAt: number | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Writes given up since the room started. */
  private gaveUp = 0;

  constructor(
    private readonly afterMs: number,
    private readonly giveUp: (afterMs: number) => void,
  ) {}

  started(): void {
    this.startedAt = Date.now();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.gaveUp++;
      this.giveUp(this.afterMs);
    }, this.afterMs);
  }

  ended(): void {
    this.startedAt = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The age of the write in flight, or null when none is. */
  get inFlightMs(): number | null {
    return this.startedAt === undefined ? null : Date.now() - this.startedAt;
  }

  get stalls(): number {
    return this.gaveUp;
  }
}
