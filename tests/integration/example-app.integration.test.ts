/**
 * The example chat app (examples/web/, served at /chat/) in real headless Chromium, two users in two
 * browser contexts, against a real `partykit dev` with the archive (PGlite): a DM sent by alice shows in
 * bob's list with an unread badge; bob opening it gives alice a read receipt; typing shows and expires;
 * presence, and an "away" status over awareness; a reload keeps history; a group's history scrolls back past the room's retention into the
 * archive with no gap; search highlights the hit; a network cut shows the banner and recovers with no gap.
 * Screenshots go to test-artifacts/example-app-*.png.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { join } from "node:path";
import WebSocket from "ws";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { KaiwaRoom } from "../../client/index.ts";
import { DevServer } from "../helpers/dev-server.ts";
import { ArchiveDb } from "../helpers/archive-db.ts";
import { waitDrained } from "../helpers/archive-check.ts";
import { ARTIFACTS_DIR, chromiumMissing, launchBrowser } from "../helpers/browser.ts";

const missing = chromiumMissing();
const DM = "dm:alice:bob";
const GROUP = "g:team";
const SEEDED = 45;
const RETENTION = 20; // the group keeps its last 20 events: scrolling further back reads the archive
const db = new ArchiveDb();
let server: DevServer;
let browser: Browser | undefined;
const users: Record<"alice" | "bob", { context: BrowserContext; page: Page }> = {} as never;

before(async () => {
  if (missing) return;
  await db.start();
  server = new DevServer({ vars: { ...db.vars, KAIWA_ARCHIVE_DELAY_MS: 50, KAIWA_RETENTION_EVENTS: RETENTION } });
  await server.start();
  browser = await launchBrowser();
  for (const user of ["alice", "bob"] as const) {
    const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
    const page = await context.newPage();
    page.on("pageerror", (error) => console.error(`${user}'s page error:`, error));
    users[user] = { context, page };
  }
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await db.stop();
});

const shot = (user: "alice" | "bob", name: string) => users[user].page.screenshot({ path: join(ARTIFACTS_DIR, `example-app-${name}-${user}.png`) });

/** Waits until `selector`'s text satisfies `want` on the page, failing with what the page shows instead. */
async function shows(page: Page, selector: string, want: RegExp, what: string, timeout = 15_000): Promise<void> {
  await page
    .waitForFunction(([sel, source]) => new RegExp(source).test(document.querySelector(sel)?.textContent ?? ""), [selector, want.source] as const, { timeout })
    .catch(async (error) => {
      const seen = await page.textContent(selector).catch(() => "(no such element)");
      throw new Error(`${what}: expected ${selector} to match ${want}, the page shows ${JSON.stringify(seen)}`, { cause: error });
    });
}

/** The open conversation's messages as the page renders them, in DOM order. */
function rendered(page: Page): Promise<Array<{ seq: number; text: string }>> {
  return page.$$eval(".conversation li.message", (rows) => rows.map((row) => ({ seq: Number((row as HTMLElement).dataset.seq), text: row.querySelector(".text")?.textContent ?? "" })));
}

/** The room's own log, read by a typed client: what the page must show, no more, no less, in order. */
async function roomLog(room: string, as: string): Promise<Array<{ seq: number; text: string }>> {
  const client = new KaiwaRoom({ host: server.host, room, token: () => server.token(as), WebSocket });
  try {
    const events = [];
    let page = await client.history({ limit: 100 });
    events.unshift(...page.events);
    while (page.hasMore) {
      page = await client.history({ before: page.events[0]!.seq, limit: 100 });
      events.unshift(...page.events);
    }
    return events.flatMap((e) => (e.kind === "message" ? [{ seq: e.seq, text: e.text }] : []));
  } finally {
    client.close();
  }
}

async function signIn(user: "alice" | "bob", name: string): Promise<void> {
  const { page } = users[user];
  await page.goto(`${server.url}/chat/#token=${await server.token(user, { name })}`);
  await shows(page, "#me", new RegExp(`^${name} · \\d+ unread`), `${user} signed in (the inbox welcomed them)`);
  assert.ok(!page.url().includes("token="), "the token leaves the address bar");
}

test("example app: DM, unread badge, receipt, typing, reload, scroll-back, search, reconnect", { skip: missing, timeout: 120_000 }, async () => {
  // A group with more history than the room keeps: carol (a typed client) creates it and posts.
  const carol = new KaiwaRoom({ host: server.host, room: GROUP, token: () => server.token("carol", { name: "Carol" }), WebSocket });
  await carol.createGroup("Team", ["alice", "bob"]);
  await Promise.all(Array.from({ length: SEEDED }, (_, i) => carol.send(`history ${i + 1}`)));
  carol.close();

  await signIn("alice", "Alice");
  await signIn("bob", "Bob");
  const alice = users.alice.page;
  const bob = users.bob.page;

  // alice starts a DM from the "message a user" form and sends.
  await alice.fill("#new-dm input[name=peer]", "bob");
  await alice.click("#new-dm button");
  await alice.fill(".compose input[name=text]", "hello bob, pineapple pizza tonight?");
  await alice.press(".compose input[name=text]", "Enter");
  await shows(alice, `.conversation[data-room="${DM}"] li.mine .text`, /pineapple/, "alice sees her own message in order");
  await shows(bob, `#conversations li[data-room="${DM}"] [data-testid=unread]`, /^1$/, "bob's list shows the DM with 1 unread");
  await shows(bob, `#conversations li[data-room="${DM}"] small`, /Alice: hello bob/, "bob's list previews it");
  await shot("bob", "1-unread");

  // bob opens it: his read reaches alice as a receipt, and his badge clears.
  await bob.click(`#conversations li[data-room="${DM}"] button`);
  await shows(bob, `.conversation[data-room="${DM}"] li.message .text`, /pineapple/, "bob sees the DM");
  await shows(alice, "[data-testid=receipt]", /^Read$/, "alice sees bob read it");
  await bob.waitForSelector(`#conversations li[data-room="${DM}"]:not(:has([data-testid=unread]))`, { timeout: 10_000 });
  await shows(alice, "[data-testid=here]", /^here: bob$/, "alice sees bob in the conversation");
  await shot("alice", "2-read");
  // bob's tab goes to the background: his awareness status says "away" to alice, then back (PROTOCOL R75).
  const hide = (hidden: boolean) => bob.evaluate((value) => {
    Object.defineProperty(document, "hidden", { value, configurable: true });
    document.dispatchEvent(new Event("visibilitychange"));
  }, hidden);
  await hide(true);
  await shows(alice, "[data-testid=here]", /^here: bob \(away\)$/, "alice sees bob away");
  await hide(false);
  await shows(alice, "[data-testid=here]", /^here: bob$/, "alice sees bob back");

  // Typing shows, then expires (~5 s after the last signal) without anyone sending.
  await bob.type(".compose input[name=text]", "typing…", { delay: 20 });
  await shows(alice, "[data-testid=typing]", /^bob is typing…$/, "alice sees bob typing");
  await shot("alice", "3-typing");
  const typedAt = Date.now();
  await shows(alice, "[data-testid=typing]", /^$/, "bob's typing expires", 12_000);
  assert.ok(Date.now() - typedAt > 2_000, "typing did not vanish at once");
  await bob.fill(".compose input[name=text]", "see you at 7");
  await bob.press(".compose input[name=text]", "Enter");
  await shows(alice, `.conversation[data-room="${DM}"] li.message:last-child .text`, /^see you at 7$/, "alice gets bob's reply");

  // alice starts a group from the form; bob gets it in his list with its unread count.
  await alice.fill("#new-group input[name=title]", "Lunch crew");
  await alice.fill("#new-group input[name=members]", "bob");
  await alice.click("#new-group button");
  await shows(alice, ".conversation li.system", /Alice created “Lunch crew”/, "the group's creation is in its log");
  await alice.fill(".compose input[name=text]", "noodles?");
  await alice.press(".compose input[name=text]", "Enter");
  const lunch = (await alice.getAttribute(".conversation", "data-room"))!;
  assert.match(lunch, /^g:/);
  await shows(bob, `#conversations li[data-room="${lunch}"]`, /Lunch crew.*1.*Alice: noodles\?/, "bob's list has the new group with 1 unread");
  await alice.click(`#conversations li[data-room="${DM}"] button`);

  // A reload keeps the session, the open conversation and its history.
  await bob.reload();
  await shows(bob, `.conversation[data-room="${DM}"] li.message:last-child .text`, /^see you at 7$/, "bob's history after a reload");
  assert.deepEqual(await rendered(bob), await roomLog(DM, "bob"), "after the reload bob shows the DM's whole log");

  // Scroll-back in the group: past the room's last RETENTION events into the archive, no gap, no repeat.
  await waitDrained(server, GROUP);
  await bob.click(`#conversations li[data-room="${GROUP}"] button`);
  await shows(bob, `.conversation[data-room="${GROUP}"] li.message:last-child .text`, new RegExp(`^history ${SEEDED}$`), "the group opens at its newest message");
  assert.ok((await rendered(bob)).length < SEEDED, "the first page is not the whole history");
  // Each scroll to the top asks for one older page (from the archive, one queue in front of one database):
  // keep scrolling until the list says it holds the beginning, however long the archive takes.
  const scrollDeadline = Date.now() + 30_000;
  while ((await bob.getAttribute(".messages", "data-complete")) !== "true") {
    if (Date.now() > scrollDeadline) throw new Error(`bob's group never reached its first message: ${(await rendered(bob)).length} of ${SEEDED} shown`);
    await bob.$eval(".messages", (list) => list.scrollTo({ top: 0 }));
    await bob.waitForTimeout(300);
  }
  const group = await rendered(bob);
  assert.deepEqual(group.map((m) => m.text), Array.from({ length: SEEDED }, (_, i) => `history ${i + 1}`), "every message once, in order, the oldest from the archive");
  assert.deepEqual(group, await roomLog(GROUP, "bob"));
  await shot("bob", "4-scrolled-back");

  // Search: the hit's snippet highlights the term, and opens the conversation.
  await waitDrained(server, DM);
  await alice.fill("#search input[name=q]", "pineapple");
  await alice.press("#search input[name=q]", "Enter");
  await shows(alice, `#results li[data-room="${DM}"] mark`, /^pineapple$/, "search finds the DM with the term highlighted");
  assert.match((await alice.textContent(`#results li[data-room="${DM}"] .snippet`))!, /hello bob, pineapple pizza/);
  await shot("alice", "5-search");

  // Someone else's DM, by link: the room refuses alice, and the page says so and shows nothing of it.
  const carolDave = new KaiwaRoom({ host: server.host, room: "dm:carol:dave", token: () => server.token("carol"), WebSocket });
  await carolDave.send("private to dave");
  carolDave.close();
  await alice.goto(`${server.url}/chat/#room=dm:carol:dave`);
  await shows(alice, "[data-testid=conversation-status]", /cannot open this conversation: forbidden/, "alice is refused carol's DM");
  assert.equal((await rendered(alice)).length, 0, "nothing of the DM reaches alice's page");
  await alice.goto(`${server.url}/chat/#room=${DM}`);
  await shows(alice, `.conversation[data-room="${DM}"] li.message:last-child .text`, /^see you at 7$/, "alice back in her DM");

  // The network cut: bob's browser goes offline while alice writes, and catches up with no gap.
  await bob.click(`#conversations li[data-room="${DM}"] button`);
  await shows(bob, `.conversation[data-room="${DM}"] li.message:last-child .text`, /^see you at 7$/, "bob back in the DM");
  await users.bob.context.setOffline(true);
  await shows(bob, "#banner", /reconnecting/, "bob sees the reconnect banner", 30_000);
  await shot("bob", "6-offline");
  for (const text of ["are you there?", "the train is late", "ok, 7:30 then"]) {
    await alice.fill(".compose input[name=text]", text);
    await alice.press(".compose input[name=text]", "Enter");
    await shows(alice, `.conversation[data-room="${DM}"] li.mine:last-child .text`, new RegExp(`^${text.replace(/[?.]/g, "\\$&")}$`), "alice's message is stored");
  }
  assert.equal((await rendered(bob)).at(-1)?.text, "see you at 7", "the cut is real: bob has not received them yet");
  await users.bob.context.setOffline(false);
  await bob.waitForSelector("#banner", { state: "hidden", timeout: 30_000 });
  await shows(bob, `.conversation[data-room="${DM}"] li.message:last-child .text`, /^ok, 7:30 then$/, "bob catches up");
  const dm = await rendered(bob);
  assert.deepEqual(dm, await roomLog(DM, "bob"), "bob's DM after the cut equals the room's log: nothing lost, repeated or reordered");
  assert.deepEqual(dm.map((m) => m.seq), [...dm.map((m) => m.seq)].sort((a, b) => a - b));
  await shows(alice, "[data-testid=receipt]", /^Read$/, "bob's catch-up read reaches alice");
  await shows(bob, "[data-testid=here]", /alice/, "bob sees alice in the conversation again");
  await shot("bob", "7-recovered");
});
