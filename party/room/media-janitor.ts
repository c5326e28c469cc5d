/**
 * Removals the room owes the object store (PROTOCOL R33), drained from the room's alarm like the archive
 * outbox (archive/outbox.ts). A job (`uj:<uploadId>`, core/uploads.ts) is written in the same batch as what
 * made it owed: a deletion of the message carrying the file (due at once), or a new slot (due when its TTL
 * ends, void if it was attached by then). The drain removes the object, then the job; a failure keeps the
 * job and retries with backoff, and a room that restarts finds its jobs at start, so nothing is forgotten
 * between the delete and the cleanup.
 */
import type * as Party from "partykit/server";
import type { AlarmClock } from "../adapters/alarm-clock.ts";
import { MEDIA_JOB_PREFIX, mediaJobKey, uploadKey } from "../core/room-keys.ts";
import { objectKey, type MediaJob } from "../core/uploads.ts";
import { retryDelayMs } from "../archive/plan.ts";
import type { RoomUploads } from "./uploads.ts";

const RETRY_BASE_MS = 1000;
const RETRY_CAP_MS = 5 * 60_000;
/** Jobs handled per drain; more wait for the next turn of the alarm. */
const JOBS_PER_DRAIN = 200;
/** A drain cut short (the room evicted half way) is started again by then. */
const WATCHDOG_MS = 60_000;

export class MediaJanitor {
  private draining = false;
  private failures = 0;
  private lastError: string | undefined;
  readonly counters = { removed: 0, expired: 0, failures: 0, drains: 0 };

  constructor(
    private readonly storage: Party.Storage,
    private readonly uploads: RoomUploads,
    private readonly clock: AlarmClock,
  ) {}

  /** At start: jobs left by an earlier run (partykit dev drops pending alarms on restart) are scheduled again. */
  async load(): Promise<void> {
    const jobs = await this.storage.list<MediaJob>({ prefix: MEDIA_JOB_PREFIX, limit: JOBS_PER_DRAIN });
    const first = Math.min(...[...jobs.values()].map((job) => job.at));
    if (first !== Infinity) await this.clock.want("media", first);
  }

  /** Work is due at `at` (a deletion now, a slot's expiry later). */
  schedule(at: number): void {
    this.clock.want("media", at).catch((error) => console.error("media: could not set the alarm", error));
  }

  /** From onAlarm: synchronous, the drain runs in the background (see RoomArchive.wake for why). */
  wake(): void {
    if (this.draining) return this.schedule(Date.now() + WATCHDOG_MS);
    this.draining = true;
    this.drain()
      .catch((error) => console.error("media: drain bookkeeping failed", error))
      .finally(() => (this.draining = false));
  }

  private async drain(): Promise<void> {
    this.counters.drains++;
    const store = this.uploads.store;
    const jobs = await this.storage.list<MediaJob>({ prefix: MEDIA_JOB_PREFIX, limit: JOBS_PER_DRAIN });
    const now = Date.now();
    let next = Infinity;
    let failed = false;
    for (const job of jobs.values()) {
      if (job.at > now) {
        next = Math.min(next, job.at);
        continue;
      }
      try {
        await this.run(job, store);
      } catch (error) {
        failed = true;
        this.counters.failures++;
        this.lastError = error instanceof Error ? error.message : String(error);
      }
    }
    if (failed) {
      this.failures++;
      next = Math.min(next, Date.now() + retryDelayMs(this.failures, RETRY_BASE_MS, RETRY_CAP_MS, Math.random));
    } else {
      this.failures = 0;
      this.lastError = undefined;
    }
    if (jobs.size >= JOBS_PER_DRAIN) next = Date.now();
    if (next !== Infinity) this.schedule(next);
  }

  /** One job: the object goes first, then the job, so a crash in between only repeats a harmless removal. */
  private async run(job: MediaJob, store: RoomUploads["store"]): Promise<void> {
    if (job.why === "expire") {
      await this.uploads.record(job.id);
      // Attached (or being attached: decided, not yet durable) by now: the job is void.
      if (!this.uploads.ledger.expirable(job.id)) return this.storage.delete(mediaJobKey(job.id)).then(() => undefined);
    }
    if (!store) throw new Error("no object store configured: the removal waits for one");
    await store.remove(objectKey(job.id));
    if (job.why === "expire") {
      // The slot goes with its object: a late attach finds no such upload.
      this.uploads.ledger.forget(job.id);
      await this.storage.delete([uploadKey(job.id), mediaJobKey(job.id)]);
      this.counters.expired++;
    } else {
      await this.storage.delete(mediaJobKey(job.id));
      this.counters.removed++;
    }
  }

  async pending(): Promise<number> {
    return (await this.storage.list({ prefix: MEDIA_JOB_PREFIX, limit: JOBS_PER_DRAIN })).size;
  }

  stats() {
    return { ...this.counters, retrying: this.failures > 0, ...(this.lastError ? { lastError: this.lastError } : {}) };
  }
}
