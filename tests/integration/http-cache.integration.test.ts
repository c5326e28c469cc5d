/**
 * The HTTP read path behind a real shared cache (PROTOCOL R41-R43): Debian's nginx with `proxy_cache` in
 * front of `partykit dev`. A thousand pollers at one poll per second, while the room keeps changing, reach
 * the origin about once per URL per interval (counted in nginx's access log and in the room's own stats),
 * 304s work, every poller ends with the room's gapless log, a room that is not public is never shared, and
 * a deletion leaves what the cache serves within the interval (plus nginx's whole-second rounding).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { KaiwaLogPoller } from "../../client/log-poller.ts";
import { DevServer, sleep, waitFor } from "../helpers/dev-server.ts";
import { NginxCache, nginxMissing } from "../helpers/nginx.ts";

const missing = nginxMissing();
let server: DevServer;
let nginx: NginxCache;

before(async () => {
  if (missing) return;
  server = new DevServer();
  await server.start();
  nginx = new NginxCache(server.port);
  await nginx.start();
});

after(async () => {
  await nginx?.stop();
  await server?.stop();
});

const operator = () => server.token("ops", { name: "Ops", operator: true });

async function patchSettings(room: string, patch: Record<string, unknown>) {
  const answer = await server.fetchJson(`/parties/room/${room}/settings`, { method: "PATCH", token: await operator(), body: JSON.stringify(patch) });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
}

/**
 * Straight to the origin, as the room's users post (posts are never cached). A connection the busy dev
 * server dropped is retried with the same clientId, which can never post twice (PROTOCOL I3).
 */
async function post(room: string, user: string, clientId: string, text: string): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      const answer = await server.fetchJson(`/parties/room/${room}/messages`, { method: "POST", token: await server.token(user), body: JSON.stringify({ clientId, text }) });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      return answer.body.seq;
    } catch (error) {
      if (attempt >= 5 || !(error instanceof TypeError)) throw error; // fetch's network failure
      await sleep(100);
    }
  }
}

async function httpLogStats(room: string) {
  return (await server.fetchJson(`/parties/room/${room}/stats`, { token: await operator() })).body.httpLog;
}

test("PROTOCOL R41, R42: 1,000 pollers at one poll per second behind nginx reach the origin about once per URL per interval, get 304s, and all end with the room's gapless log", { skip: missing }, async () => {
  const room = "cache-live";
  await patchSettings(room, { public: true, pollIntervalMs: 1000 });
  for (let i = 1; i <= 250; i++) await post(room, `viewer${i % 7}`, `seed-${i}`, `seed message ${i}`);
  const statsBefore = await httpLogStats(room);
  const logStart = nginx.accessLog().length;
  // The room keeps changing while they poll: a message every 200 ms, so `latest` is new every interval.
  let posting = true;
  let posted = 0;
  const trickle = (async () => {
    while (posting) {
      await post(room, "artist", `live-${++posted}`, `live message ${posted}`);
      await sleep(200);
    }
  })();
  const statuses = new Map<number, number>();
  const counting: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    return response;
  };
  // 1,000 pollers: 980 light ones (a viewer's page: latest with If-None-Match, and on arrival the sealed
  // pages latest names, each once) and 20 typed clients (client/log-poller.ts) whose logs are checked.
  // The light ones read bodies without parsing them, so the load generator does not starve the box.
  const POLLERS = 1000;
  const FULL = 20;
  const ROUNDS = 3;
  const pageUrls = new Map<string, string[]>(); // by latest's ETag: parsed once
  const light = async () => {
    let etag: string | undefined;
    let pagesRead = false;
    return async () => {
      const response = await counting(`${nginx.url}/parties/room/${room}/log/latest`, etag ? { headers: { "if-none-match": etag } } : {});
      const body = await response.text();
      if (response.status !== 200) return;
      etag = response.headers.get("etag") ?? undefined;
      if (!pageUrls.has(etag!)) pageUrls.set(etag!, JSON.parse(body).pages.map((page: { url: string }) => page.url));
      if (pagesRead) return;
      pagesRead = true;
      for (const url of pageUrls.get(etag!)!) await (await counting(nginx.url + url)).arrayBuffer();
    };
  };
  const full = Array.from({ length: FULL }, () => ({ poller: new KaiwaLogPoller({ baseUrl: nginx.url, room, from: "start", fetch: counting }), seen: [] as string[] }));
  const polls = await Promise.all(
    Array.from({ length: POLLERS }, async (_, index) => {
      if (index % (POLLERS / FULL) !== 0) return light();
      const p = full[index / (POLLERS / FULL)]!;
      return async () => void p.seen.push(...(await p.poller.poll()).map((event) => `${event.seq}/${event.clientId}`));
    }),
  );
  const started = Date.now();
  // Each poller polls once per second at its own phase within the second (an audience arriving over time).
  await Promise.all(
    polls.map(async (poll, index) => {
      const phase = (index / POLLERS) * 1000;
      for (let round = 0; round < ROUNDS; round++) {
        await sleep(Math.max(0, started + phase + round * 1000 - Date.now()));
        await poll();
      }
    }),
  );
  const elapsedS = (Date.now() - started) / 1000;
  posting = false;
  await trickle;
  const statsAfter = await httpLogStats(room);
  // The log as the origin has it, read without any cache.
  const reference = new KaiwaLogPoller({ baseUrl: server.url, room, from: "start" });
  const log = (await reference.poll()).map((event) => `${event.seq}/${event.clientId}`);
  assert.equal(log.length, 250 + posted);

  const lines = nginx.accessLog().slice(logStart).filter((line) => line.uri.startsWith(`/parties/room/${room}/log/`));
  const requests = lines.length;
  const originHits = lines.filter((line) => line.origin);
  const latestHits = originHits.filter((line) => line.uri.endsWith("/log/latest"));
  const pageHits = originHits.filter((line) => !line.uri.endsWith("/log/latest"));
  const share = 1 - originHits.length / requests;
  const byCache = Object.fromEntries([...new Set(lines.map((l) => l.cacheStatus))].map((s) => [s, lines.filter((l) => l.cacheStatus === s).length]));
  console.log(`${requests} requests in ${elapsedS.toFixed(1)} s; origin hits ${originHits.length} (latest ${latestHits.length}, pages ${pageHits.length}); cache answered ${(share * 100).toFixed(2)}%; by cache status ${JSON.stringify(byCache)}; client statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
  assert.ok(requests >= POLLERS * ROUNDS, `every poll went through nginx (${requests})`);
  // About once per interval for latest: at most one per second of the run, plus nginx's whole-second rounding at each end.
  assert.ok(latestHits.length <= Math.ceil(elapsedS) + 2, `latest reached the origin ${latestHits.length} times in ${elapsedS.toFixed(1)} s`);
  assert.ok(latestHits.length >= 2, "latest expired and was fetched again while the room changed");
  // Sealed pages are immutable: each versioned URL reached the origin once.
  const perPage = new Map<string, number>();
  for (const hit of pageHits) perPage.set(hit.uri, (perPage.get(hit.uri) ?? 0) + 1);
  for (const [uri, hits] of perPage) assert.equal(hits, 1, `${uri} reached the origin ${hits} times`);
  assert.ok(share >= 0.99, `the cache answered ${(share * 100).toFixed(2)}% of requests`);
  // The room counts the same misses: what reached it, and nothing more.
  const roomLatest = statsAfter.latest - statsBefore.latest;
  assert.equal(roomLatest, latestHits.length, `the room answered latest ${roomLatest} times, nginx asked ${latestHits.length}`);
  // 304s: a poller whose copy was still the cached one was answered 304 by the cache (its If-None-Match).
  assert.ok((statuses.get(304) ?? 0) > 0, `304s: ${statuses.get(304)}`);
  assert.deepEqual([...statuses.keys()].filter((status) => status !== 200 && status !== 304), [], "only 200 and 304");

  // Once the cache serves the final latest, one more poll: every typed poller has exactly the room's log, gapless.
  await waitFor(async () => (await (await fetch(`${nginx.url}/parties/room/${room}/log/latest`)).json()).lastSeq === log.length, 10_000, "the cache serves the final latest");
  await Promise.all(full.map(async (p) => void p.seen.push(...(await p.poller.poll()).map((event) => `${event.seq}/${event.clientId}`))));
  for (const [index, p] of full.entries()) assert.deepEqual(p.seen, log, `poller ${index} saw another log`);

  // A conditional request the cache answers itself: 304 with the ETag, no body, no origin hit.
  const fresh = await fetch(`${nginx.url}/parties/room/${room}/log/latest`);
  const etag = fresh.headers.get("etag")!;
  await fresh.arrayBuffer();
  const conditional = await fetch(`${nginx.url}/parties/room/${room}/log/latest`, { headers: { "if-none-match": etag } });
  assert.equal(conditional.status, 304);
  assert.equal(conditional.headers.get("etag"), etag);
  await waitFor(() => nginx.accessLog().some((line) => line.status === 304 && line.cacheStatus === "HIT"), 5000, "nginx logged its own 304");
});

test("PROTOCOL R40, R42: a room that is not public is never shared by the cache: every read reaches the origin", { skip: missing }, async () => {
  const room = "cache-private";
  await post(room, "alice", "p1", "private words");
  const logStart = nginx.accessLog().length;
  for (let i = 0; i < 20; i++) {
    const token = await server.token(`member${i}`);
    const response = await fetch(`${nginx.url}/parties/room/${room}/log/latest`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("cache-control"), "private, max-age=1");
    await response.arrayBuffer();
  }
  // Anonymous readers get the refusal, never a copy someone else's token fetched.
  const anonymous = await fetch(`${nginx.url}/parties/room/${room}/log/latest`);
  assert.equal(anonymous.status, 401);
  assert.ok(!(await anonymous.text()).includes("private words"));
  const mine = () => nginx.accessLog().slice(logStart).filter((line) => line.uri.startsWith(`/parties/room/${room}/`));
  await waitFor(() => mine().length >= 21, 5000, "access log");
  const lines = mine();
  assert.equal(lines.filter((line) => line.origin).length, 21, `origin hits: ${lines.map((line) => line.cacheStatus).join(",")}`);
  assert.equal(lines.filter((line) => line.cacheStatus === "HIT").length, 0);
});

test("PROTOCOL R43: through nginx, a deleted message's text stops being served within the poll interval (plus nginx's whole-second rounding)", { skip: missing }, async () => {
  const room = "cache-moderation";
  await patchSettings(room, { public: true, pollIntervalMs: 1000 });
  const secret = await post(room, "alice", "secret", "forbidden words 4711");
  for (let i = 0; i < 120; i++) await post(room, "bob", `f${i}`, `filler ${i}`);
  // Warm the cache: latest and the page it names.
  const warm = await (await fetch(`${nginx.url}/parties/room/${room}/log/latest`)).json();
  const oldUrl = warm.pages.find((page: { page: number }) => page.page === 1).url;
  assert.ok((await (await fetch(nginx.url + oldUrl)).text()).includes("4711"));
  const deletion = await server.fetchJson(`/parties/room/${room}/admin/delete`, { method: "POST", token: await operator(), body: JSON.stringify({ target: secret }) });
  assert.equal(deletion.status, 200);
  const deletedAt = Date.now();
  // Poll the cache as a viewer would, until neither latest nor the page it names shows the text.
  let goneAfterMs = -1;
  while (Date.now() - deletedAt < 5000) {
    const latestText = await (await fetch(`${nginx.url}/parties/room/${room}/log/latest`)).text();
    const latest = JSON.parse(latestText);
    const url = latest.pages.find((page: { page: number }) => page.page === 1).url;
    const pageText = await (await fetch(nginx.url + url)).text();
    if (!latestText.includes("4711") && !pageText.includes("4711") && url !== oldUrl) {
      goneAfterMs = Date.now() - deletedAt;
      break;
    }
    await sleep(50);
  }
  console.log(`the deleted text left what nginx serves ${goneAfterMs} ms after the deletion`);
  assert.ok(goneAfterMs >= 0, "the deleted text was still served 5 s later");
  // max-age=1: nginx keeps an entry through the whole second after its last (it counts whole seconds), so up to 2 s.
  assert.ok(goneAfterMs <= 2000 + 250, `took ${goneAfterMs} ms`);
});
