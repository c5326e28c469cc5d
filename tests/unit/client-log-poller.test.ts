/**
 * client/log-poller.ts against a scripted server (PROTOCOL R41): new events once and in order, 304s cost
 * nothing, a poller that fell behind reads the sealed pages in between first, an epoch change starts over,
 * `from: "latest"` skips the backlog, and a hole in what the server shows is an error, never a silent gap.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { KaiwaLogPoller } from "../../client/log-poller.ts";
import { LOG_PAGE_SIZE, pageSeqs, versionPath, type RoomEvent } from "../../party/protocol/index.ts";

const ROOM = "r";
const event = (seq: number): RoomEvent => ({ kind: "message", seq, ts: seq, author: { id: "a", name: "A" }, clientId: `c${seq}`, text: `t${seq}` });

/** A room whose log is 1..lastSeq; serves latest and sealed pages like the room does (versions 0). */
function scripted(state: { epoch: string; lastSeq: number; skip?: number }) {
  const requests: string[] = [];
  const fetchLike = (async (input: string | URL | Request, init?: RequestInit) => {
    const path = new URL(String(input)).pathname;
    requests.push(path);
    const { epoch, lastSeq } = state;
    const etag = `"L1.${epoch}.${lastSeq}.1000"`;
    if (path.endsWith("/log/latest")) {
      if ((init?.headers as Record<string, string> | undefined)?.["if-none-match"] === etag) return new Response(null, { status: 304, headers: { etag } });
      const events = [];
      for (let seq = Math.max(1, lastSeq - LOG_PAGE_SIZE + 1); seq <= lastSeq; seq++) if (seq !== state.skip) events.push(event(seq));
      const newest = Math.floor(lastSeq / LOG_PAGE_SIZE);
      const pages = [];
      for (let page = newest; page >= 1 && page > newest - 10; page--) pages.push({ page, ...pageSeqs(page), version: 0, url: versionPath(ROOM, page, epoch, 0) });
      return Response.json({ room: ROOM, epoch, lastSeq, pageSize: LOG_PAGE_SIZE, pollIntervalMs: 1000, openPage: Math.ceil((lastSeq + 1) / LOG_PAGE_SIZE), events, pages }, { headers: { etag } });
    }
    const page = Number(path.split("/")[6]);
    const { from, through } = pageSeqs(page);
    const events = [];
    for (let seq = from; seq <= through; seq++) events.push(event(seq));
    return Response.json({ room: ROOM, epoch, page, from, through, version: 0, events });
  }) as typeof fetch;
  return { fetch: fetchLike, requests };
}

test("PROTOCOL R41: a poller gets every event once, in order; unchanged polls are 304s; falling behind reads the sealed pages between", async () => {
  const state = { epoch: "e1", lastSeq: 30 };
  const server = scripted(state);
  const poller = new KaiwaLogPoller({ baseUrl: "http://x", room: ROOM, from: "start", fetch: server.fetch });
  const seen: number[] = [];
  seen.push(...(await poller.poll()).map((e) => e.seq));
  assert.deepEqual(seen, Array.from({ length: 30 }, (_, i) => i + 1));
  assert.deepEqual(await poller.poll(), []); // 304
  state.lastSeq = 475; // more than a page arrived: pages 1-3 sealed, latest shows 376..475
  seen.push(...(await poller.poll()).map((e) => e.seq));
  assert.deepEqual(seen, Array.from({ length: 475 }, (_, i) => i + 1));
  assert.ok(server.requests.some((path) => path === versionPath(ROOM, 1, "e1", 0)));
  assert.ok(server.requests.some((path) => path === versionPath(ROOM, 3, "e1", 0)));
  assert.equal(poller.lastSeq, 475);
});

test("PROTOCOL R41: from latest skips the backlog; an epoch change starts the new stream from seq 1; a hole is an error", async () => {
  const state: { epoch: string; lastSeq: number; skip?: number } = { epoch: "e1", lastSeq: 250 };
  const server = scripted(state);
  const viewer = new KaiwaLogPoller({ baseUrl: "http://x", room: ROOM, fetch: server.fetch });
  const first = await viewer.poll();
  assert.deepEqual([first[0]!.seq, first.at(-1)!.seq, first.length], [151, 250, 100]);
  assert.equal(server.requests.filter((path) => path.includes("/page/")).length, 0);
  // The room lost its storage: a new epoch, a new stream from 1.
  state.epoch = "e2";
  state.lastSeq = 3;
  assert.deepEqual((await viewer.poll()).map((e) => e.seq), [1, 2, 3]);
  // A server that skips a seq is refused loudly (PROTOCOL I5: never a silent gap).
  state.lastSeq = 6;
  state.skip = 5;
  await assert.rejects(viewer.poll(), /skipped from 4 to 6/);
  // Nothing was handed out or lost by the failed poll: once the server is whole, 4, 5, 6 come in order.
  assert.equal(viewer.lastSeq, 3);
  delete state.skip;
  assert.deepEqual((await viewer.poll()).map((e) => e.seq), [4, 5, 6]);
});
