/**
 * A typed client of the publish API (PROTOCOL R60-R64) for an app's backend: Node, Deno, Bun or a worker
 * (web-standard fetch only). It does what every caller would otherwise write by hand:
 * - splits a target list into calls of at most PUBLISH_LIMITS.maxTargets (PROTOCOL R62);
 * - retries, with the same clientIds (so nothing is posted twice, PROTOCOL R64), the targets whose error is
 *   retryable (`storage_failed`, `room_unavailable`, ...) and whole calls that failed on the way (network,
 *   5xx), with full-jitter backoff, up to `retries` times;
 * - returns one result per target in the order given, with the number of attempts it took.
 * A refusal of the whole call that a retry cannot fix (401, 403, 400, 413) throws a KaiwaError.
 * Server side only: a publish key must never reach a browser (so it is not exported from client/index.ts).
 */
import { z } from "zod";
import { backoffDelay, type BackoffOptions } from "../party/protocol/index.ts";
import { InboxTargetResult, PUBLISH_LIMITS, RoomTargetResult, type BotAuthor } from "../party/protocol/publish-schema.ts";
import { KaiwaError, isErrorCode } from "./errors.ts";

export type { BotAuthor, InboxTargetResult, RoomTargetResult };
export type PublishMessage = { author: BotAuthor; text: string };
export type PublishReport<R> = { results: Array<R & { attempts: number }>; succeeded: number; failed: number };

export type KaiwaPublisherOptions = {
  /** Base URL of the kaiwa server, e.g. `https://kaiwa.example.partykit.dev`. */
  baseUrl: string;
  /** One of the server's KAIWA_PUBLISH_KEYS. */
  key: string;
  /** Retries of retryable failures after the first attempt (default 4). */
  retries?: number;
  backoff?: BackoffOptions;
  fetch?: typeof fetch;
};

const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

export class KaiwaPublisher {
  constructor(private readonly options: KaiwaPublisherOptions) {}

  /** Posts `message` into each room (`POST /publish/rooms`). */
  rooms(message: PublishMessage, targets: Array<{ room: string; clientId: string }>): Promise<PublishReport<RoomTargetResult>> {
    return this.publish("rooms", message, targets, RoomTargetResult);
  }

  /** Posts `message` into each user's notices room, which reaches their inbox (`POST /publish/inboxes`). */
  inboxes(message: PublishMessage, targets: Array<{ user: string; clientId: string }>): Promise<PublishReport<InboxTargetResult>> {
    return this.publish("inboxes", message, targets, InboxTargetResult);
  }

  private async publish<T extends { clientId: string }, R extends { ok: boolean; error?: { retryable: boolean } }>(
    route: "rooms" | "inboxes",
    message: PublishMessage,
    targets: T[],
    schema: z.ZodType<R>,
  ): Promise<PublishReport<R>> {
    const results: Array<R & { attempts: number }> = new Array(targets.length);
    let open = targets.map((_, index) => index); // indices still to (re)send
    const retries = this.options.retries ?? 4;
    for (let attempt = 0; open.length > 0 && attempt <= retries; attempt++) {
      if (attempt > 0) await sleep(backoffDelay(attempt - 1, this.options.backoff));
      const retry: number[] = [];
      for (let from = 0; from < open.length; from += PUBLISH_LIMITS.maxTargets) {
        const chunk = open.slice(from, from + PUBLISH_LIMITS.maxTargets);
        const answer = await this.call(route, { ...message, targets: chunk.map((index) => targets[index]) }, schema);
        if (!answer) {
          retry.push(...chunk); // the call itself failed on the way: every target in it is sent again
          continue;
        }
        answer.forEach((result, position) => {
          const index = chunk[position]!;
          results[index] = { ...result, attempts: attempt + 1 };
          if (!result.ok && result.error?.retryable) retry.push(index);
        });
      }
      open = retry;
    }
    if (open.some((index) => results[index] === undefined)) throw new KaiwaError("internal", `The publish API could not be reached after ${retries + 1} attempts.`);
    const failed = results.filter((r) => !r.ok).length;
    return { results, succeeded: results.length - failed, failed };
  }

  /** One call: its per-target results, or undefined when it failed in a way a retry may fix. */
  private async call<R>(route: string, body: unknown, schema: z.ZodType<R>): Promise<R[] | undefined> {
    let response: Response;
    try {
      response = await (this.options.fetch ?? fetch)(`${this.options.baseUrl}/publish/${route}`, {
        method: "POST",
        headers: { authorization: `Bearer ${this.options.key}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    } catch {
      return undefined; // network: the same clientIds are safe to send again
    }
    const text = await response.text();
    if (response.status === 200 || response.status === 207) return z.object({ results: z.array(schema) }).parse(JSON.parse(text)).results;
    if (response.status >= 500 || response.status === 429) return undefined;
    const error = ErrorBody.safeParse(safeJson(text));
    const code = error.success && isErrorCode(error.data.error.code) ? error.data.error.code : "internal";
    throw new KaiwaError(code, error.success ? error.data.error.message : `HTTP ${response.status}`);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
