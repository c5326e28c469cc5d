/**
 * The operator dashboard in real headless Chromium against a real `partykit dev`, with real typed
 * clients in the room: live connection counts (0, 3, 1), delete from the dashboard reaches clients as a
 * tombstone, an announcement reaches clients in sequence, a ban closes the user's socket (4030) and
 * refuses their sends with the typed error. Screenshots go to test-artifacts/.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { KaiwaError } from "../../client/index.ts";
import { DevServer, waitFor } from "../helpers/dev-server.ts";
import { openClient, sendAll, type TestClient } from "../helpers/clients.ts";
import { assertRoomConsistent } from "../helpers/log-check.ts";
import { rawSocket } from "../helpers/raw-socket.ts";
import { ARTIFACTS_DIR, chromiumMissing, launchChromium } from "../helpers/browser.ts";

const missing = chromiumMissing();
const ROOM = "lobby";
let server: DevServer;
let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
let page: Page;

before(async () => {
  if (missing) return;
  server = new DevServer({ vars: { KAIWA_DIRECTORY_INTERVAL_MS: 200 } });
  await server.start();
  browser = await launchChromium();
  page = await browser.context.newPage();
  page.on("pageerror", (error) => console.error("dashboard page error:", error));
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS_DIR, `dashboard-${name}.png`), fullPage: true });

async function shows(testId: string, text: string, what: string): Promise<void> {
  await page.waitForFunction(([id, want]) => document.querySelector(`[data-testid="${id}"]`)?.textContent === want, [testId, text] as const, { timeout: 15_000 }).catch(async (error) => {
    const seen = await page.textContent(`[data-testid="${testId}"]`).catch(() => "(none)");
    throw new Error(`${what}: expected ${testId} = ${text}, dashboard shows ${seen}`, { cause: error });
  });
}

test("dashboard: live counts, delete, announcement and ban through the browser", { skip: missing }, async () => {
  const operator = await server.token("ops", { name: "Ops", operator: true });
  await page.goto(`${server.url}/#token=${operator}&room=${ROOM}`);
  await shows("room-id", ROOM, "inspector opened");
  await shows("connections", "0", "empty room");
  await shows("tail-status", "tail: open", "the tail (an observer) is connected");
  await shows("observers", "1", "the dashboard's own tail counts as an observer, not a connection");
  await shot("0-empty");

  // 0 → 3 → 1 as clients connect and leave.
  const alice = await openClient(server, ROOM, "alice");
  const bob = await openClient(server, ROOM, "bob");
  const carol = await openClient(server, ROOM, "carol");
  await shows("connections", "3", "three clients");
  await page.waitForSelector(`#rooms tr[data-room="${ROOM}"]`, { timeout: 15_000 });
  await page.waitForFunction((room) => document.querySelector(`#rooms tr[data-room="${room}"] [data-testid=list-connections]`)?.textContent === "3", ROOM, { timeout: 15_000 });
  await shot("1-three-clients");
  bob.room.close();
  carol.room.close();
  await shows("connections", "1", "two left");
  await shot("2-one-client");

  // Delete from the dashboard: the connected client receives the tombstone event.
  await sendAll(alice, ["hello", "something rude", "bye"]);
  const rude = alice.observed.acks.get(alice.observed.sent[1]!)!;
  await page.waitForSelector(`.events li[data-seq="${rude}"] button.delete`, { timeout: 15_000 });
  await page.click(`.events li[data-seq="${rude}"] button.delete`);
  await waitFor(() => alice.observed.events.some((e) => e.kind === "delete" && e.target === rude), 15_000, "alice sees the tombstone");
  const tombstone = alice.observed.events.find((e) => e.kind === "delete")!;
  assert.equal(tombstone.author.id, "ops", "the delete is stamped with the operator's verified identity");
  await page.waitForSelector(`.events li[data-seq="${rude}"][data-deleted]`, { timeout: 15_000 });
  const history = await alice.room.history({ limit: 10 });
  const stored = history.events.find((e) => e.seq === rude);
  assert.ok(stored?.kind === "message" && stored.deletedBy === tombstone.seq && stored.text === "", "history shows the tombstone in place (PROTOCOL I1)");
  await shot("3-deleted");

  // Announcement: reaches the client as the next event in sequence.
  const seqBefore = alice.observed.events.at(-1)!.seq;
  await page.fill("textarea[name=announcement]", "Maintenance at 22:00 UTC");
  await page.click("form.announce button[type=submit]");
  await waitFor(() => alice.observed.events.some((e) => e.kind === "announcement"), 15_000, "alice sees the announcement");
  const announcement = alice.observed.events.find((e) => e.kind === "announcement")!;
  assert.equal(announcement.seq, seqBefore + 1, "the announcement is the next seq");
  assert.ok(announcement.kind === "announcement" && announcement.text === "Maintenance at 22:00 UTC");
  await shows("action-status", `announced as #${announcement.seq}`, "the dashboard shows the announcement's seq");
  await page.waitForSelector(`.events li.announcement[data-seq="${announcement.seq}"]`, { timeout: 15_000 });
  await shot("4-announced");

  // Ban: alice's socket closes with 4030 and her next send fails with the typed error.
  await page.fill("form.moderate input[name=user]", "alice");
  await page.selectOption("form.moderate select[name=action]", "ban");
  await page.fill("form.moderate input[name=minutes]", "10");
  await page.click("form.moderate button[type=submit]");
  await waitFor(() => alice.room.status === "closed", 15_000, "alice's socket closed by the ban");
  assert.match(alice.statuses.join(","), /closed$/);
  const refused = await alice.room.send("let me back in").then(
    () => undefined,
    (error: unknown) => error,
  );
  assert.ok(refused instanceof KaiwaError && refused.code === "banned" && refused.retryable === false, `send refused with banned, got ${String(refused)}`);
  const ban = alice.observed.events.at(-1)!;
  assert.ok(ban.kind === "moderation" && ban.action === "ban" && ban.user === "alice" && ban.until! > Date.now(), "alice saw the sequenced ban before the close");
  // A new socket of hers is refused with a typed frame and the same close code.
  const again = await rawSocket(server, ROOM, { token: await server.token("alice"), session: "s2" });
  const frame = await again.next((f) => f.type === "error");
  assert.equal(frame.code, "banned");
  assert.equal((await again.closed).code, 4030);
  await page.waitForSelector(".restrictions li", { timeout: 15_000 });
  await shows("connections", "0", "the banned user's socket is gone");
  await shot("5-banned");

  // Nothing lost, duplicated or reordered: alice saw every event 1..lastSeq exactly once.
  const lastSeq = Number(await page.textContent("[data-testid=last-seq]"));
  assert.equal(lastSeq, ban.seq);
  assertRoomConsistent([alice.observed], lastSeq);
  for (const client of [alice, bob, carol] as TestClient[]) client.room.close();

  // A DM is not tailed; reading it from the dashboard goes through the audited route.
  const dm = "dm:dora:erin";
  const dora = await openClient(server, dm, "dora");
  await sendAll(dora, ["just between us"]);
  await page.fill("#open-room input[name=room]", dm);
  await page.click("#open-room button[type=submit]");
  await shows("room-id", dm, "DM inspector");
  await shows("kind", "dm", "DM kind");
  await shows("tail-status", "tail: off for DMs (reads are audited)", "no live tail on a DM");
  await page.click("button.read-dm");
  await page.waitForSelector('.events li[data-seq="1"]', { timeout: 15_000 });
  await shows("action-status", "read 1 events (audited)", "DM read");
  const operatorAdmin = await server.fetchJson(`/admin/rooms/${dm}/audit`, { token: operator });
  assert.equal(operatorAdmin.body.records.length, 1, "the read left one audit record");
  assert.equal(operatorAdmin.body.records[0].operator.id, "ops");
  await shot("6-dm-audited");
  dora.room.close();
});
