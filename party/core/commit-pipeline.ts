/**
 * Group commit (PROTOCOL I2). Accepted commands are collected and written in one durable write; only after
 * that write resolves are their acks and broadcasts released.
 *
 * Why collect: each WebSocket frame is its own event, so awaiting a write per frame serialises the
 * room on storage round-trips (~2.5k msgs/s measured). Commands collect for `windowMs` when the room
 * is idle (the room uses 0: the next timer tick) and for as long as the previous write is in flight,
 * so under load one write carries hundreds.
 * Why one write in flight: batch B is built on the optimistic state of batch A, so B must not be
 * written before A is durable, and if A fails B fails with it (seqs would otherwise have a gap).
 *
 * Pure: time and I/O come in through the port, so tests drive it with plain data.
 */
export type PipelinePort<T> = {
  /** Make these writes durable together; reject if they were not applied. */
  persist(writes: Map<string, unknown>): Promise<void>;
  /** Run `fn` after `ms` milliseconds. */
  schedule(fn: () => void, ms: number): void;
  /** The batch is durable: release acks and broadcasts for its items, in order. */
  committed(items: T[]): void;
  /** Nothing in `items` was stored (a failed write and everything built on it). */
  failed(items: T[], error: unknown): void;
  /** `items` are durable, but `committed` threw part way: what it did not get to is the port's to repair. */
  releaseFailed(items: T[], error: unknown): void;
};

type Batch<T> = { items: T[]; writes: Map<string, unknown> };

export class CommitPipeline<T> {
  private collecting: Batch<T> = { items: [], writes: new Map() };
  private inFlight = false;
  private timerSet = false;
  private idleWaiters: Array<() => void> = [];
  /** Counters for stats and for tests that prove batching. */
  readonly counters = { flushes: 0, items: 0, keysWritten: 0 };

  constructor(
    private readonly port: PipelinePort<T>,
    private readonly windowMs: number,
    private readonly maxItemsPerBatch: number,
  ) {}

  /** Queue an item whose writes become durable before `committed` hears of it. Later writes to a key win. */
  add(item: T, writes: Iterable<readonly [string, unknown]> = []): void {
    this.collecting.items.push(item);
    for (const [key, value] of writes) this.collecting.writes.set(key, value);
    if (this.collecting.items.length >= this.maxItemsPerBatch) this.flush();
    else this.arm();
  }

  get pending(): number {
    return this.collecting.items.length;
  }

  get busy(): boolean {
    return this.inFlight || this.collecting.items.length > 0;
  }

  /** Resolves once nothing is collected or in flight (a reload must not read storage under a write). */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private wakeIfIdle(): void {
    if (!this.busy) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private arm(): void {
    if (this.timerSet || this.inFlight) return;
    this.timerSet = true;
    this.port.schedule(() => {
      this.timerSet = false;
      this.flush();
    }, this.windowMs);
  }

  /**
   * Gives up the write in flight as failed (PROTOCOL R3b: it has not settled for far too long): its batch and
   * everything collected behind it fail now, as if the write had rejected, and whatever the write does
   * later is ignored. False if no write is in flight.
   */
  abandon(error: Error): boolean {
    if (!this.inFlight || !this.current) return false;
    this.current.settle.fail(error);
    return true;
  }

  /** The write in flight: its batch and how to settle it once (the write's own outcome, or `abandon`). */
  private current: { settle: { ok(): void; fail(error: unknown): void } } | undefined;

  private flush(): void {
    if (this.inFlight || this.collecting.items.length === 0) return;
    const batch = this.collecting;
    this.collecting = { items: [], writes: new Map() };
    this.inFlight = true;
    this.counters.flushes++;
    this.counters.items += batch.items.length;
    this.counters.keysWritten += batch.writes.size;
    let written: Promise<void>;
    try {
      written = batch.writes.size > 0 ? this.port.persist(batch.writes) : Promise.resolve();
    } catch (error) {
      written = Promise.reject(error);
    }
    const onDurable = (): void => {
      this.inFlight = false;
      try {
        this.port.committed(batch.items);
      } catch (error) {
        this.port.releaseFailed(batch.items, error);
      } finally {
        // What collected meanwhile is written whatever became of this release. Otherwise it would wait
        // for a next command that may never come: a room that stops acking with nothing to show why.
        if (this.collecting.items.length > 0) this.flush();
        this.wakeIfIdle();
      }
    };
    const onFailed = (error: unknown): void => {
      // Everything collected meanwhile was sequenced after the failed batch: it fails too.
      const dependents = this.collecting.items;
      this.collecting = { items: [], writes: new Map() };
      this.inFlight = false;
      try {
        this.port.failed([...batch.items, ...dependents], error);
      } finally {
        this.wakeIfIdle();
      }
    };
    // Settled once: by the write, or earlier by `abandon` (then the write's own outcome is ignored).
    let settled = false;
    const settle = {
      ok: () => {
        if (settled) return;
        settled = true;
        this.current = undefined;
        onDurable();
      },
      fail: (error: unknown) => {
        if (settled) return;
        settled = true;
        this.current = undefined;
        onFailed(error);
      },
    };
    this.current = { settle };
    written.then(settle.ok, settle.fail);
  }
}
