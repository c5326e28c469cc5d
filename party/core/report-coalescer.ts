/**
 * Coalesced, fire-and-forget reporting from a room to the directory (pure: clock, timer and send come in).
 *
 * - `touch()` is all the hot path does: one boolean check. A report goes out at most once per interval.
 * - A report whose content did not change since the last delivered one is not sent.
 * - One send in flight at a time; a send that fails or takes longer than the timeout is counted and
 *   retried on a later interval (a few times, then only on the next change). Nothing waits on it, so a
 *   slow or failing directory never delays an ack.
 */
export type ReportPort<S> = {
  snapshot(): S;
  send(snapshot: S): Promise<void>;
  schedule(fn: () => void, ms: number): void;
  now(): number;
  /** After a delivered report: whether another should follow even without a touch (e.g. a rate must fall to 0). */
  followUp?(snapshot: S): boolean;
};

const MAX_RETRIES = 3;

export class ReportCoalescer<S> {
  readonly counters = { sent: 0, failed: 0, unchanged: 0 };
  private timerSet = false;
  private inFlight = false;
  /** Touched while a send was in flight: report again once it settles (never spin on timers meanwhile). */
  private touchedInFlight = false;
  private lastAttemptAt: number;
  private lastDelivered: string | undefined;
  private retries = 0;

  constructor(
    private readonly port: ReportPort<S>,
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
  ) {
    // A room reports at the earliest one interval after it starts: a burst of joins and first
    // messages goes out as one report, and the start of a room's life does no extra I/O.
    this.lastAttemptAt = port.now();
  }

  /** Something changed: make sure a report goes out within the interval. */
  touch(): void {
    if (this.inFlight) {
      this.touchedInFlight = true;
      return;
    }
    if (this.timerSet) return;
    this.timerSet = true;
    const delay = Math.max(0, this.lastAttemptAt + this.intervalMs - this.port.now());
    this.port.schedule(() => this.flush(), delay);
  }

  private flush(): void {
    this.timerSet = false;
    if (this.inFlight) return void (this.touchedInFlight = true);
    let snapshot: S;
    try {
      snapshot = this.port.snapshot();
    } catch {
      // The figures could not be read now (in `partykit dev` a room's id throws while an alarm runs): a
      // failed attempt like a failed send, retried an interval later, never an uncaught error in a timer.
      this.counters.failed++;
      this.lastAttemptAt = this.port.now();
      if (++this.retries <= MAX_RETRIES) this.touch();
      return;
    }
    const key = JSON.stringify(snapshot);
    if (key === this.lastDelivered) {
      this.counters.unchanged++;
      return;
    }
    this.inFlight = true;
    this.lastAttemptAt = this.port.now();
    let settled = false;
    const settle = (ok: boolean) => {
      if (settled) return;
      settled = true;
      this.inFlight = false;
      const again = this.touchedInFlight;
      this.touchedInFlight = false;
      if (ok) {
        this.counters.sent++;
        this.lastDelivered = key;
        this.retries = 0;
        if (again || this.port.followUp?.(snapshot)) this.touch();
      } else {
        this.counters.failed++;
        if (++this.retries <= MAX_RETRIES || again) this.touch();
      }
    };
    this.port.schedule(() => settle(false), this.timeoutMs);
    let sending: Promise<void>;
    try {
      sending = this.port.send(snapshot);
    } catch (error) {
      sending = Promise.reject(error);
    }
    sending.then(
      () => settle(true),
      () => settle(false),
    );
  }
}
