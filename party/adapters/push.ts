/**
 * The push hook for users with no connected device: an HTTP POST to KAIWA_PUSH_URL, signed with
 * HMAC-SHA256 (Web Crypto, so it runs on workerd) over `<timestamp>.<body>` with KAIWA_PUSH_SECRET.
 * The receiver recomputes the signature and rejects old timestamps (replay protection is theirs to choose).
 *
 * Jobs wait durably in the inbox's storage (one key each, in order) and are retried with backoff until the
 * receiver answers 2xx; a 4xx other than 408/429 is final (the receiver refused this payload for good).
 */
import { backoffDelay } from "../protocol/backoff.ts";
import type * as Party from "partykit/server";
import { loadConfig, type PushConfig } from "../config.ts";

export const SIGNATURE_HEADER = "x-kaiwa-signature";
export const TIMESTAMP_HEADER = "x-kaiwa-timestamp";
const MAX_JOBS = 1000;

export type PushPayload = {
  user: string;
  room: string;
  seq: number;
  ts: number;
  from: { id: string; name: string };
  /** The first 100 characters of the message. */
  preview: string;
  /** PROTOCOL R27: the message mentions this user. */
  mention?: true;
};
type Job = { payload: PushPayload; attempts: number };
export type { PushConfig };

/** `loadConfig(env).push` (party/config.ts): undefined when push is off; throws ConfigError when invalid. */
export function pushConfigFrom(env: Record<string, unknown>): PushConfig | undefined {
  return loadConfig(env).push;
}

export async function signPush(secret: string, timestamp: string, body: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${timestamp}.${body}`));
  return "v1=" + [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export class PushQueue {
  private next = 0;
  private running = false;
  private failures = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  readonly counters = { sent: 0, failed: 0, dropped: 0 };

  constructor(
    private readonly storage: Party.Storage,
    private readonly config: PushConfig | undefined,
    private readonly armAlarm: (at: number) => void,
    /** Where jobs are kept in the owner's storage (the inbox's key module names it). */
    private readonly prefix: string,
  ) {}

  get enabled(): boolean {
    return this.config !== undefined;
  }

  async enqueue(payloads: PushPayload[]): Promise<void> {
    if (!this.config || payloads.length === 0) return;
    if (this.next === 0) this.next = await this.highestKey();
    const writes: Record<string, Job> = {};
    for (const payload of payloads) writes[jobKey(this.prefix, ++this.next)] = { payload, attempts: 0 };
    await this.storage.put(writes);
    await this.trim();
    void this.run();
  }

  /** Delivers queued jobs in order; on failure waits with full-jitter backoff (and arms the alarm). */
  async run(): Promise<void> {
    if (!this.config || this.running) return;
    this.running = true;
    try {
      for (;;) {
        const batch = await this.storage.list<Job>({ prefix: this.prefix, limit: 20 });
        if (batch.size === 0) return;
        for (const [key, job] of batch) {
          const outcome = await this.deliver(job.payload);
          if (outcome === "retry") {
            this.counters.failed++;
            await this.storage.put(key, { ...job, attempts: job.attempts + 1 });
            const wait = backoffDelay(++this.failures, { baseMs: 200, capMs: 60_000 });
            this.armAlarm(Date.now() + wait + 1000);
            clearTimeout(this.timer);
            this.timer = setTimeout(() => void this.run(), wait);
            return;
          }
          this.failures = 0;
          if (outcome === "sent") this.counters.sent++;
          else this.counters.dropped++;
          await this.storage.delete(key);
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async deliver(payload: PushPayload): Promise<"sent" | "retry" | "refused"> {
    const { url, secret } = this.config!;
    const body = JSON.stringify(payload);
    const timestamp = String(Date.now());
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: await signPush(secret, timestamp, body) },
        body,
      });
      await response.body?.cancel();
      if (response.ok) return "sent";
      return response.status >= 500 || response.status === 408 || response.status === 429 ? "retry" : "refused";
    } catch (error) {
      console.error("push delivery failed", error);
      return "retry";
    }
  }

  private async highestKey(): Promise<number> {
    const last = await this.storage.list({ prefix: this.prefix, reverse: true, limit: 1 });
    const key = [...last.keys()][0];
    return key ? Number(key.slice(this.prefix.length)) : 0;
  }

  /** Bounded: past MAX_JOBS the oldest jobs are dropped (a user offline that long gets the list on return). */
  private async trim(): Promise<void> {
    const all = await this.storage.list({ prefix: this.prefix });
    const excess = all.size - MAX_JOBS;
    if (excess <= 0) return;
    await this.storage.delete([...all.keys()].slice(0, excess));
    this.counters.dropped += excess;
  }
}

const jobKey = (prefix: string, n: number): string => prefix + String(n).padStart(12, "0");
