/**
 * The bench runs `partykit dev` with its logger capped at warnings (bench/lib/dev-log-cap.mjs says what
 * the per-request log costs). This proves the bench's default server stops reporting requests while a
 * server kept as `npm run dev` runs it (`requestLog: true`) still does, so a partykit or miniflare that
 * moves the level fails here instead of the bench quietly measuring with the log on; and that the capped
 * logger (miniflare's `Log`, loaded here with the same preload) still prints warnings and errors.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Log } from "miniflare";
import { KaiwaTarget } from "../../bench/targets/kaiwa.ts";
import { sleep } from "../helpers/dev-server.ts";

const capped = new KaiwaTarget();
const logged = new KaiwaTarget({ requestLog: true });
before(() => Promise.all([capped.start(), logged.start()]));
after(() => Promise.all([capped.stop(), logged.stop()]));

/** Requests the server answers without a token (401), so each one is a line in a request log. */
async function request(target: KaiwaTarget, times: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    const response = await fetch(`${target.server.url}/parties/room/dev-log-probe/history`);
    assert.equal(response.status, 401);
    await response.body?.cancel();
  }
}

/** The path alone: the method before it may be wrapped in colour codes. */
const REQUEST_LINE = /\/parties\/room\/dev-log-probe\/history/;

test("bench: a server kept as npm run dev reports every request to its Node process", async () => {
  const mark = logged.server.logMark();
  await request(logged, 3);
  const deadline = Date.now() + 10_000;
  while (!REQUEST_LINE.test(logged.server.logSince(mark)) && Date.now() < deadline) await sleep(50);
  assert.match(logged.server.logSince(mark), REQUEST_LINE, "partykit dev should log each request at its default level");
});

test("bench: the bench's server answers the same requests and logs none of them", async () => {
  const mark = capped.server.logMark();
  await request(capped, 3);
  await sleep(1000); // the uncapped server's lines arrive within a few ms; wait far longer before judging
  assert.doesNotMatch(capped.server.logSince(mark), REQUEST_LINE);
});

test("bench: the cap keeps miniflare's warnings and errors", async () => {
  await import("../../bench/lib/dev-log-cap.mjs");
  assert.equal(new Log(5).level, 2, "verbose is capped at warnings");
  assert.equal(new Log(1).level, 1, "a lower level stays as it is");
  const lines: string[] = [];
  class Capture extends Log {
    protected override log(message: string): void {
      lines.push(message);
    }
  }
  const log = new Capture(5, { prefix: "probe" });
  log.info("an info line");
  log.warn("a warning");
  log.error(new Error("an error"));
  assert.equal(lines.length, 2);
  assert.match(lines[0]!, /a warning/);
  assert.match(lines[1]!, /an error/);
});
