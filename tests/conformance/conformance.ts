/**
 * The client's conformance script (PROTOCOL R71): what an app does with `kaiwa/client`, checked step by step.
 * One script for every runtime: it imports nothing, uses only web-standard globals (fetch, timers), and is
 * handed the built client bundle, so Node, Deno, Bun and a browser page run exactly this code
 * (tests/integration/client-runtimes.integration.test.ts compiles it to JavaScript and runs it in each).
 *
 * Steps: connect with a fresh token from the app's token endpoint; send 200 messages all in flight and see
 * every one acked with gapless seqs and received by another member once, in order; cut that member's
 * transport (the harness's proxy drops its TCP connections and refuses new ones) while 50 more are sent,
 * then let it reconnect with a fresh token and resume gaplessly (no reset); send a DM through the inbox
 * and receive it on the other user's inbox; find a message in the archive with search, from another origin
 * in a browser (PROTOCOL R70).
 *
 * Search is the entry `kaiwa/client/search` (PROTOCOL R76): each runtime imports its bundle beside the client's
 * and hands this script both, as one object; a refused search rejects with the client's own KaiwaError class.
 */
import type * as KaiwaClient from "../../client/index.ts";
import type * as KaiwaSearch from "../../client/search.ts";

/** What an app imports: `kaiwa/client` and `kaiwa/client/search`. */
export type Kaiwa = typeof KaiwaClient & typeof KaiwaSearch;

export type ConformanceEnv = {
  /** partykit dev, reached directly. */
  host: string;
  /** The same server through the harness's cuttable proxy. */
  proxyHost: string;
  /** The harness: `/token?user=` (a fresh token per call), `/cut`, `/heal`, `/tokens?user=` (calls so far). */
  harness: string;
  /** Unique per run, so runtimes sharing one server never share a room or a user. */
  runId: string;
  /** Node 20 has no global WebSocket: the harness passes the `ws` class. */
  WebSocket?: unknown;
};

export type ConformanceResult = { ok: true; steps: Array<{ step: string; ms: number }> } | { ok: false; step: string; error: string; steps: Array<{ step: string; ms: number }> };

type Collected = { seqs: number[]; texts: string[]; resets: string[]; resumes: unknown[] };

export async function runConformance(kaiwa: Kaiwa, env: ConformanceEnv): Promise<ConformanceResult> {
  const steps: Array<{ step: string; ms: number }> = [];
  const closers: Array<() => void> = [];
  let current = "start";
  const step = async <T>(name: string, body: () => Promise<T>): Promise<T> => {
    current = name;
    const started = Date.now();
    const value = await body();
    steps.push({ step: name, ms: Date.now() - started });
    return value;
  };
  try {
    const alice = `alice-${env.runId}`;
    const bob = `bob-${env.runId}`;
    const roomId = `conf-${env.runId}`;
    const token = (user: string) => async () => {
      const response = await fetch(`${env.harness}/token?user=${user}`);
      if (!response.ok) throw new Error(`token endpoint: HTTP ${response.status}`);
      return response.text();
    };
    const tokenCalls = async (user: string) => Number(await (await fetch(`${env.harness}/tokens?user=${user}`)).text());
    const common = { backoff: { baseMs: 100, capMs: 1_000 }, ...(env.WebSocket ? { WebSocket: env.WebSocket } : {}) };

    // Bob listens through the proxy (so his transport can be cut); Alice sends directly.
    const { sender, listener, heard } = await step("connect with a fresh token", async () => {
      const listener = new kaiwa.KaiwaRoom({ host: env.proxyHost, room: roomId, token: token(bob), ...common });
      closers.push(() => listener.close());
      const heard: Collected = { seqs: [], texts: [], resets: [], resumes: [] };
      listener.on("message", (m) => {
        heard.seqs.push(m.seq);
        heard.texts.push(m.text);
      });
      listener.on("reset", (r) => heard.resets.push(r.reason));
      listener.on("welcome", (w) => heard.resumes.push(w.resume));
      const sender = new kaiwa.KaiwaRoom({ host: env.host, room: roomId, token: token(alice), ...common });
      closers.push(() => sender.close());
      await until(() => listener.status === "open" && sender.status === "open", 20_000, "both rooms open");
      check((await tokenCalls(bob)) >= 1 && (await tokenCalls(alice)) >= 1, "each client fetched a token to connect");
      return { sender, listener, heard };
    });

    const sendAll = async (texts: string[]) => {
      const acks = await Promise.all(texts.map((text) => sender.send(text)));
      for (let i = 1; i < acks.length; i++) check(acks[i]!.seq === acks[i - 1]!.seq + 1, `acks gapless and in sending order (ack ${i}: seq ${acks[i]!.seq} after ${acks[i - 1]!.seq})`);
      return acks;
    };
    const first = await step("send 200 in flight, all acked in order", () => sendAll(range(200).map((i) => `m${i} ${env.runId}`)));

    await step("receive each of the 200 once, in order", async () => {
      await until(() => heard.seqs.length >= 200, 20_000, `200 messages heard (have ${heard.seqs.length})`);
      checkStream(heard, first[0]!.seq, 200, (i) => `m${i} ${env.runId}`);
    });

    const tokensBefore = await tokenCalls(bob);
    const second = await step("cut the listener's transport while 50 more are sent", async () => {
      await harness(env, "/cut");
      await until(() => listener.status !== "open", 20_000, "the listener to notice the cut");
      return sendAll(range(50).map((i) => `m${200 + i} ${env.runId}`));
    });
    check(second[0]!.seq === first[199]!.seq + 1, "the room's seqs run on across the cut");

    await step("reconnect with a fresh token and resume gaplessly", async () => {
      await harness(env, "/heal");
      await until(() => heard.seqs.length >= 250, 30_000, `250 messages heard after the cut (have ${heard.seqs.length})`);
      checkStream(heard, first[0]!.seq, 250, (i) => `m${i} ${env.runId}`);
      check(heard.resets.length === 0, `no reset (got ${heard.resets.join(", ")})`);
      check(heard.resumes.length >= 2, "a second welcome after the cut");
      check(JSON.stringify(heard.resumes.at(-1)) === JSON.stringify({ recovered: true }), `the room recovered the position (${JSON.stringify(heard.resumes.at(-1))})`);
      check((await tokenCalls(bob)) > tokensBefore, "the reconnect asked for a fresh token");
    });

    await step("send a DM through the inbox and receive it on the other user's inbox", async () => {
      const bobInbox = new kaiwa.KaiwaInbox({ host: env.host, user: bob, token: token(bob), ...common });
      closers.push(() => bobInbox.close());
      const aliceInbox = new kaiwa.KaiwaInbox({ host: env.host, user: alice, token: token(alice), ...common });
      closers.push(() => aliceInbox.close());
      const received: string[] = [];
      bobInbox.on("message", ({ event }) => received.push(event.text));
      await until(() => bobInbox.status === "open" && aliceInbox.status === "open", 20_000, "both inboxes open");
      const text = `hello bob ${env.runId}`;
      const ack = await aliceInbox.sendDm(bob, text);
      check(ack.room === (alice < bob ? `dm:${alice}:${bob}` : `dm:${bob}:${alice}`), `the DM room (${ack.room})`);
      await until(() => received.includes(text), 20_000, "the DM on bob's inbox");
      // A marker instead of a wait: a second DM reaches bob's inbox after any repeat of the first (the room
      // tells an inbox in order, and the inbox its devices in order).
      const marker = `marker for bob ${env.runId}`;
      await aliceInbox.sendDm(bob, marker);
      await until(() => received.includes(marker), 20_000, "the marker DM on bob's inbox");
      const dms = received.filter((t) => t === text || t === marker);
      check(JSON.stringify(dms) === JSON.stringify([text, marker]), `the DM arrived once, then the marker (got ${JSON.stringify(dms)})`);
    });

    await step("find a message in the archive with search", async () => {
      // Only message 137 holds "m137"; the room filter keeps other runs' rooms out.
      const target = first[137]!.seq;
      let page: Awaited<ReturnType<typeof kaiwa.search>> | undefined;
      const deadline = Date.now() + 30_000;
      // The archive drains a moment after the commit: poll until the message is there.
      while (Date.now() < deadline) {
        page = await kaiwa.search({ host: env.host, token: token(bob), q: "m137", room: roomId });
        if (page.results.some((hit) => hit.seq === target)) break;
        await sleep(250);
      }
      const hit = page?.results.find((h) => h.seq === target);
      check(hit !== undefined, `search found message 137 (seq ${target})`);
      check(hit.room === roomId && hit.author.id === alice && hit.snippet.includes(`m137 ${env.runId}`), "the hit names its room and author, and its snippet the text");
      check(hit.highlights.length > 0 && hit.highlights.every(([start, end]) => hit.snippet.slice(start, end).toLowerCase() === "m137"), "the highlights mark the query in the snippet");
      // A user who is in no room of this run finds nothing (PROTOCOL R14a).
      const outsider = await kaiwa.search({ host: env.host, token: token(`eve-${env.runId}`), q: "m137" });
      check(outsider.results.length === 0, "an outsider finds nothing");
      // The search bundle takes KaiwaError from the client's: one class, so instanceof holds across the two.
      const refused = await kaiwa.search({ host: env.host, token: "not-a-token", q: "m137" }).then(
        () => undefined,
        (error: unknown) => error,
      );
      check(refused instanceof kaiwa.KaiwaError && refused.code === "unauthorized", `a refused search rejects with the client's KaiwaError (got ${String(refused)})`);
    });
    return { ok: true, steps };
  } catch (error) {
    return { ok: false, step: current, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error), steps };
  } finally {
    for (const close of closers) close();
  }
}

function checkStream(heard: Collected, firstSeq: number, count: number, textOf: (i: number) => string): void {
  check(heard.seqs.length === count, `exactly ${count} messages heard (have ${heard.seqs.length}: a duplicate or a stray)`);
  for (let i = 0; i < count; i++) {
    check(heard.seqs[i] === firstSeq + i, `message ${i} has seq ${firstSeq + i} (got ${heard.seqs[i]})`);
    check(heard.texts[i] === textOf(i), `message ${i} is "${textOf(i)}" (got "${heard.texts[i]}")`);
  }
}

async function harness(env: ConformanceEnv, path: string): Promise<void> {
  const response = await fetch(env.harness + path);
  if (!response.ok) throw new Error(`harness ${path}: HTTP ${response.status}`);
}

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Error(`expected: ${what}`);
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
