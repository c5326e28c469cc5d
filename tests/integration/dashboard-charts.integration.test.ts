/**
 * The dashboard's live charts and system overview in real headless Chromium, against a real `partykit
 * dev` with a real archive (PGlite, drained 1.5 s behind so its lag shows), while real typed clients in
 * two rooms send as fast as their acks allow and a raw socket sends frames that are not JSON.
 *
 * The charts are read back from the page (uPlot's own data arrays, `window.kaiwaCharts`) and from the
 * canvas pixels: they must grow and change under load, agree with what the clients actually did (the
 * connection count, the errors, the message total within the rate's sampling error), fall back to 0 when
 * the load stops (msgs/s, and archive lag once the archive has every event), and still hold the history
 * after a page reload (it is kept by the directory). A screenshot under load goes to test-artifacts/.
 * The new routes refuse anyone but an operator, and bad input gets a typed error.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { Overview } from "../../party/protocol/admin-schema.ts";
import { DevServer, sleep, waitFor } from "../helpers/dev-server.ts";
import { openClient, sendAll, type TestClient } from "../helpers/clients.ts";
import { assertRoomConsistent } from "../helpers/log-check.ts";
import { rawSocket, type RawSocket } from "../helpers/raw-socket.ts";
import { ArchiveDb } from "../helpers/archive-db.ts";
import { ARTIFACTS_DIR, chromiumMissing, launchChromium } from "../helpers/browser.ts";

const missing = chromiumMissing();
const ROOM = "charts-lobby";
const SIDE = "charts-side";
const db = new ArchiveDb();
let server: DevServer;
let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
let page: Page;
const clients: TestClient[] = [];
let raw: RawSocket | undefined;
/** Ends the load loops (also when a test fails half way, so after() is not left waiting on them). */
let stop = false;

before(async () => {
  await db.start();
  server = new DevServer({ vars: { ...db.vars, KAIWA_DIRECTORY_INTERVAL_MS: 200, KAIWA_ARCHIVE_DELAY_MS: 1500 } });
  await server.start();
  if (missing) return;
  browser = await launchChromium();
  page = await browser.context.newPage();
  page.on("pageerror", (error) => console.error("dashboard page error:", error));
});

after(async () => {
  stop = true;
  for (const client of clients) client.room.close();
  raw?.ws.close();
  await browser?.close();
  await server?.stop();
  await db.stop();
});

type Columns = Array<Array<number | null>>;
type Charts = Record<"connections" | "rate" | "latency" | "archive", Columns>;

/** uPlot's data arrays of one chart group, as the page holds them ([x, ...lines]). */
async function charts(group: "system" | "room"): Promise<Charts | undefined> {
  return page.evaluate((name) => {
    const charts = window.kaiwaCharts?.[name];
    if (!charts || charts.plots.size < 4) return undefined;
    return Object.fromEntries([...charts.plots].map(([key, plot]) => [key, plot.data.map((column) => Array.from(column as ArrayLike<number | null>))])) as never;
  }, group);
}

const last = (column: Array<number | null> | undefined) => column?.at(-1);
const numbers = (column: Array<number | null> | undefined) => (column ?? []).filter((v): v is number => typeof v === "number");

test("overview and series routes: operators only, typed errors for bad input", async () => {
  const operator = await server.token("ops", { operator: true });
  const user = await server.token("mallory");
  for (const path of ["/admin/overview", "/admin/series", `/admin/series?room=${ROOM}`]) {
    const [none, asUser] = await Promise.all([server.fetchJson(path), server.fetchJson(path, { token: user })]);
    assert.equal(none.status, 401, `${path} without a token`);
    assert.equal(none.body.error.code, "unauthorized");
    assert.equal(asUser.status, 403, `${path} as a user`);
    assert.equal(asUser.body.error.code, "forbidden");
    assert.equal(asUser.body.error.retryable, false);
  }
  // The directory is internal: not even an operator reaches it without the admin API.
  for (const path of ["/parties/directory/global/overview", "/parties/directory/global/series"]) {
    const direct = await server.fetchJson(path, { token: operator });
    assert.equal(direct.status, 404, path);
    assert.equal(direct.body.error.code, "not_found");
  }
  const bad = [
    [`/admin/series?room=bad%20room`, 400, "bad_frame"],
    [`/admin/series?limit=5`, 400, "bad_frame"],
    [`/admin/series?room=never-reported`, 404, "not_found"],
  ] as const;
  for (const [path, status, code] of bad) {
    const result = await server.fetchJson(path, { token: operator });
    assert.equal(result.status, status, `${path}: ${JSON.stringify(result.body)}`);
    assert.equal(result.body.error.code, code, path);
  }
  const overview = Overview.parse((await server.fetchJson("/admin/overview", { token: operator })).body);
  assert.equal(overview.rooms, 0, "nothing has reported yet");
  const series = (await server.fetchJson("/admin/series", { token: operator })).body;
  assert.deepEqual(series.t, [], "no history before the first report");
});

test("charts draw real, changing data under load and keep it across a reload", { skip: missing }, async () => {
  const operator = await server.token("ops", { name: "Ops", operator: true });
  await page.goto(`${server.url}/#token=${operator}&room=${ROOM}`);
  await page.waitForFunction(() => (window.kaiwaCharts?.system?.plots.size ?? 0) === 4, undefined, { timeout: 15_000 });

  // The load: four clients in one room, two in another, each sending batches as fast as acks come back,
  // and a raw socket in the second room sending frames that are not JSON.
  for (const user of ["alice", "bob", "carol", "dave"]) clients.push(await openClient(server, ROOM, user));
  for (const user of ["erin", "frank"]) clients.push(await openClient(server, SIDE, user));
  raw = await rawSocket(server, SIDE, { token: await server.token("mallory"), session: "raw" });
  await raw.next((f) => f.type === "welcome");
  let batch = 0;
  const started = Date.now();
  const load = clients.map(async (client) => {
    while (!stop) {
      await sendAll(client, Array.from({ length: 5 }, (_, i) => `${client.observed.userId}-${batch++}-${i}`));
      await sleep(100);
    }
  });
  let badSent = 0;
  const bad = (async () => {
    while (!stop) {
      raw!.send("not json");
      badSent++;
      await sleep(400);
    }
  })();

  // Under load: sample the page once a second; every chart must show traffic, the latency and archive
  // lag included, in the system group and in the room group.
  const samples: Charts[] = [];
  const room: Charts[] = [];
  let shot = false;
  for (let i = 0; i < 9; i++) {
    await sleep(1000);
    samples.push((await charts("system"))!);
    room.push((await charts("room"))!);
    const now = samples.at(-1)!;
    const loaded = Math.max(...numbers(now.rate[1])) > 0 && Math.max(...numbers(now.archive[1])) > 0 && numbers(now.latency[2]).length > 0 && last(now.connections[1]) === 7;
    if (loaded && !shot && i >= 4) {
      await page.screenshot({ path: join(ARTIFACTS_DIR, "dashboard-charts-load.png"), fullPage: true });
      shot = true;
    }
  }
  stop = true;
  await Promise.all([...load, bad]);
  const loadMs = Date.now() - started;
  assert.ok(shot, "a screenshot was taken with every chart showing the load");

  const first = samples[0]!;
  const peak = samples.at(-1)!;
  assert.ok(peak.rate[0]!.length > first.rate[0]!.length, `the window grew: ${first.rate[0]!.length} → ${peak.rate[0]!.length} slots`);
  assert.notDeepEqual(peak.rate, first.rate, "msgs/s changed between samples");
  assert.equal(last(peak.connections[1]), 7, "system connections: 6 clients and the raw socket (the dashboard's tail is an observer)");
  assert.equal(last(room.at(-1)!.connections[1]), 4, "the room's own connections");
  const p50 = numbers(peak.latency[1]);
  const p99 = numbers(peak.latency[2]);
  assert.ok(p50.length > 0 && p50.every((v) => v > 0), `ack latency p50 drawn: ${p50}`);
  peak.latency[1]!.forEach((v, i) => v !== null && assert.ok(peak.latency[2]![i]! >= v, "p99 ≥ p50 in every slot"));
  assert.ok(Math.max(...p99) > 0);
  assert.ok(Math.max(...numbers(room.at(-1)!.archive[1])) > 0, "the room's archive lag rose while its drain was 1.5 s behind");
  assert.ok(Math.max(...numbers(room.at(-1)!.rate[1])) > 0, "the room's msgs/s rose");

  // The rate is a rate of real messages: added up over the slots it is the total sent, within the error
  // of sampling a rate once per slot.
  const sent = clients.reduce((n, c) => n + c.observed.sent.length, 0);
  const slotSeconds = (peak.rate[0]![1]! - peak.rate[0]![0]!) || 1;
  const integrated = numbers(peak.rate[1]).reduce((n, v) => n + v * slotSeconds, 0);
  console.log(`# ${sent} messages in ${loadMs} ms; the msgs/s chart adds up to ${Math.round(integrated)}; p50 ${Math.min(...p50)}-${Math.max(...p50)} ms, p99 up to ${Math.max(...p99)} ms; archive lag up to ${Math.max(...numbers(peak.archive[1]))}`);
  assert.ok(integrated > sent * 0.5 && integrated < sent * 2, `msgs/s over time ${integrated} vs ${sent} sent`);

  // The canvas is not blank: the msgs/s line is drawn in its own colour.
  const drawn = await page.evaluate(() => {
    const plot = window.kaiwaCharts!.system!.plots.get("rate")!;
    const canvas = plot.ctx.canvas;
    const pixels = plot.ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let line = 0;
    for (let i = 0; i < pixels.length; i += 4) {
      const [r, g, b, a] = [pixels[i]!, pixels[i + 1]!, pixels[i + 2]!, pixels[i + 3]!];
      if (a > 200 && Math.abs(r - 0x1f) < 40 && Math.abs(g - 0x9d) < 40 && Math.abs(b - 0x6b) < 40) line++;
    }
    return line;
  });
  assert.ok(drawn > 100, `${drawn} pixels of the msgs/s line on the canvas`);

  // After the load: every client saw every event once, in order; msgs/s falls to 0, and the archive lag
  // to 0 once the archive holds every event (checked in the database itself).
  const lastSeq = clients.slice(0, 4).reduce((n, c) => n + c.observed.sent.length, 0);
  await waitFor(() => clients.slice(0, 4).every((c) => c.observed.events.length === lastSeq), 15_000, "every event reached every client");
  assertRoomConsistent(clients.slice(0, 4).map((c) => c.observed), lastSeq);
  await waitFor(async () => {
    const [system, one] = [await charts("system"), await charts("room")];
    return last(system?.rate[1]) === 0 && last(system?.archive[1]) === 0 && last(one?.rate[1]) === 0 && last(one?.archive[1]) === 0;
  }, 20_000, "msgs/s and archive lag back to 0 on both chart groups");
  const [{ rows }] = (await db.query<{ rows: number }>("SELECT count(*)::int AS rows FROM archive_events WHERE room_id = $1", [ROOM])) as [{ rows: number }];
  assert.equal(rows, lastSeq, "lag 0 on the chart: the archive holds every event");

  // The overview on the first page: the tiles and the errors by code match what the clients did.
  const badAnswered = () => raw!.frames.filter((f) => f.type === "error" && f.code === "bad_frame").length;
  await waitFor(() => badAnswered() === badSent, 10_000, "every bad frame answered");
  await page.waitForFunction((n) => document.querySelector("[data-testid=errors-by-code] [data-code=bad_frame] .count")?.textContent === String(n), badSent, { timeout: 15_000 });
  assert.equal(await page.textContent("[data-testid=sys-rooms]"), "2");
  assert.equal(await page.textContent("[data-testid=sys-connections]"), "7");
  assert.equal(await page.textContent("[data-testid=sys-rate]"), "0");
  assert.equal(await page.textContent("#system-charts [data-chart=connections] .now"), "7", "the latest figure beside the chart's title");
  assert.equal(await page.textContent("#room-charts [data-chart=rate] .now"), "msgs/s 0 · errors/s 0");
  await page.screenshot({ path: join(ARTIFACTS_DIR, "dashboard-charts-after.png"), fullPage: true });

  // A reload: the history comes back from the directory at once, load included.
  const before = (await charts("system"))!;
  await page.reload();
  await page.waitForFunction((n) => (window.kaiwaCharts?.system?.plots.get("rate")?.data[0]?.length ?? 0) >= n, before.rate[0]!.length, { timeout: 15_000 });
  const reloaded = (await charts("system"))!;
  assert.ok(Math.max(...numbers(reloaded.rate[1])) > 0, "the load is still on the msgs/s chart after a reload");
  assert.deepEqual(reloaded.rate[1]!.slice(0, before.rate[1]!.length - 1), before.rate[1]!.slice(0, -1), "the same history (the open slot may have moved on)");

  // Clients leave: connections fall to 0 on the chart.
  for (const client of clients) client.room.close();
  raw.ws.close();
  await page.waitForFunction(() => window.kaiwaCharts?.system?.plots.get("connections")?.data[1]?.at(-1) === 0, undefined, { timeout: 20_000 });
});
