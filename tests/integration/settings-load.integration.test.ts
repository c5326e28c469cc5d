/**
 * Stored room settings the current code no longer accepts must not stop a room from starting.
 *
 * The case: an operator changed a room's settings while the code allowed more (say `maxTextChars` up to
 * 8,000, set to 6,000); later the code lowered the limit (now `LIMITS.maxTextChars`). The room's storage
 * still holds the old value. Loading it must clamp (or fall back to a valid value, with a warning), never
 * refuse to start: the socket upgrade gets a welcome, members post, the operator sees and changes valid
 * settings, and every HTTP route answers.
 *
 * Without changing code, the "old value" is written into the room's persisted storage while the server is
 * down: `partykit dev --persist <dir>` keeps each Durable Object in `<dir>/party/-<party>DO/<id>.sqlite`
 * (workerd's own SQLite format), so the test opens that storage with workerd itself, through Miniflare
 * (partykit's own dev runtime, pinned by partykit), with a Durable Object class of the same name: the same
 * namespace key and `idFromName(room)` reach the same object, and `storage.put` writes the value in the
 * format the room reads.
 *
 * Each repair is logged (the server's output is checked), and the same storage access shows what the
 * room stores: only the fields operators set (never the defaults filled in), and nothing rewritten by a load.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request as httpRequest } from "node:http";
import { after, before, test } from "node:test";
import { Miniflare } from "miniflare";
import { LIMITS, RoomSettings } from "../../party/protocol/index.ts";
import { DevServer } from "../helpers/dev-server.ts";
import { rawSocket, type RawSocket } from "../helpers/raw-socket.ts";

/** A value that was valid under an older, higher limit and is over today's. */
const LEGACY_MAX_TEXT_CHARS = LIMITS.maxTextChars + 2_000;
/** What the code stored for every room an operator ever patched: the fully merged settings. */
const LEGACY_SETTINGS = { whoMayPost: "everyone", maxTextChars: LEGACY_MAX_TEXT_CHARS, slowModeMs: 0 };
const SETTINGS_KEYS = Object.keys(RoomSettings.parse({})).sort();
/** Keys that name Object's prototype members: once they made loading throw, and the room could not start. */
const PROTOTYPE_SETTINGS = { constructor: 1, toString: "x", slowModeMs: 5 };

const stateDir = mkdtempSync(join(tmpdir(), "kaiwa-settings-load-"));
let server: DevServer;
const sockets: RawSocket[] = [];

before(async () => {
  server = new DevServer({ stateDir });
  await server.start();
});

after(async () => {
  for (const socket of sockets) socket.ws.terminate();
  await server?.kill();
  rmSync(stateDir, { recursive: true, force: true });
});

/**
 * Reads (and with `put`, first writes) one room's persisted storage while no server runs: workerd opens
 * the same SQLite file `partykit dev` keeps the room in. Returns every key the room stores afterwards.
 */
async function roomStorage(room: string, put?: Record<string, unknown>): Promise<Record<string, any>> {
  const script = `
    export class roomDO {
      constructor(state) { this.state = state; }
      async fetch(request) {
        const put = await request.json();
        if (put) await this.state.storage.put(put);
        return Response.json(Object.fromEntries(await this.state.storage.list()));
      }
    }
    export default {
      fetch(request, env) {
        const room = new URL(request.url).searchParams.get("room");
        return env.ROOM.get(env.ROOM.idFromName(room)).fetch(request);
      },
    };`;
  // partykit names the room party's class `roomDO` in an unnamed worker: namespace key (and folder) `-roomDO`.
  const mf = new Miniflare({ modules: true, script, durableObjects: { ROOM: "roomDO" }, durableObjectsPersist: join(stateDir, "party"), compatibilityDate: "2024-09-23", host: "127.0.0.1", port: 0 });
  try {
    const response = await mf.dispatchFetch(`http://storage.local/?room=${encodeURIComponent(room)}`, { method: "POST", body: JSON.stringify(put ?? null) });
    assert.equal(response.status, 200, `storage of ${room}: ${await response.clone().text()}`);
    return (await response.json()) as Record<string, any>;
  } finally {
    await mf.dispose();
  }
}

/** Waits for `line` in what the server printed since `mark`. */
async function logged(mark: number, line: string, room: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!server.logSince(mark).includes(line) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok(server.logSince(mark).includes(line), `${room}: the server never logged ${JSON.stringify(line)}; it printed: ${server.logSince(mark).slice(-2000)}`);
}

/** The warning a room logs when it clamps the legacy `maxTextChars` while loading. */
const clampWarning = (room: string) =>
  `room ${room}: stored settings repaired: maxTextChars: ${LEGACY_MAX_TEXT_CHARS} is outside 1..${LIMITS.maxTextChars}; clamped to ${LIMITS.maxTextChars}`;

const UPGRADED = "101 upgraded";

/**
 * Joins with a raw socket. The upgrade is tried once bare first, so a refusal fails with the body the
 * room answered (after a failed start, partykit upgrades later sockets into a room with no state).
 */
async function joinRoom(room: string, user: string): Promise<{ socket: RawSocket; welcome: any }> {
  const query = { token: await server.token(user), session: `s-${user}-${Date.now()}` };
  const probe = await upgradeAnswer(room, query);
  if (probe !== UPGRADED) {
    const stats = await server.fetchJson(`/parties/room/${room}/stats`, { token: await operator() });
    assert.fail(`${room}: socket upgrade refused: ${probe.slice(0, 700)}; then GET stats answers ${stats.status} ${JSON.stringify(stats.body).slice(0, 300)}`);
  }
  const socket = await rawSocket(server, room, query);
  sockets.push(socket);
  const welcome = await socket.next((f) => f.type === "welcome" || f.type === "error", 30_000);
  assert.equal(welcome.type, "welcome", `${room}: ${JSON.stringify(welcome)}`);
  return { socket, welcome };
}

/** What the server answers a socket upgrade with: UPGRADED, or the status and body of the refusal. */
function upgradeAnswer(room: string, query: Record<string, string>): Promise<string> {
  return new Promise((resolve) => {
    const request = httpRequest(`${server.url}/parties/room/${room}?${new URLSearchParams({ ...query, session: `${query.session}-probe` })}`, {
      headers: { connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" },
    });
    request.on("upgrade", (_response, socket) => (socket.destroy(), resolve(UPGRADED)));
    request.on("response", (response) => {
      let body = "";
      response.on("data", (chunk) => (body += chunk));
      response.on("end", () => resolve(`HTTP ${response.statusCode} ${body}`));
    });
    request.on("error", (error) => resolve(`(no answer: ${error.message})`));
    request.end();
  });
}

/** One send over `socket`; resolves with the ack or the error frame. */
async function sendOne(socket: RawSocket, n: number, text: string): Promise<any> {
  const clientId = `c-${n}-${Date.now()}`;
  const from = socket.frames.length;
  socket.send({ type: "send", clientId, n, text });
  const reply = await socket.next((f) => (f.type === "ack" && f.acks.some((a: any) => a.clientId === clientId)) || (f.type === "error" && f.ref === clientId), 30_000, from);
  return reply.type === "ack" ? { ack: reply.acks.find((a: any) => a.clientId === clientId) } : { error: reply };
}

const operator = () => server.token("ops", { name: "Ops", operator: true });

async function patchSettings(room: string, patch: Record<string, unknown>) {
  return server.fetchJson(`/parties/room/${room}/settings`, { method: "PATCH", token: await operator(), body: JSON.stringify(patch), headers: { "content-type": "application/json" } });
}

async function stats(room: string): Promise<any> {
  const result = await server.fetchJson(`/parties/room/${room}/stats`, { token: await operator() });
  assert.equal(result.status, 200, `${room}: GET stats ${result.status} ${JSON.stringify(result.body).slice(0, 600)}`);
  return result.body;
}

/** Settings as the room shows them: exactly the schema's fields, each valid under today's limits. */
function assertSensible(settings: any, room: string, where: string): void {
  assert.deepEqual(Object.keys(settings ?? {}).sort(), SETTINGS_KEYS, `${room}: ${where} shows ${JSON.stringify(settings)}`);
  const parsed = RoomSettings.safeParse(settings);
  assert.ok(parsed.success, `${room}: ${where} shows settings today's code refuses: ${JSON.stringify(settings)}`);
  assert.ok(settings.maxTextChars <= LIMITS.maxTextChars, `${room}: ${where} maxTextChars ${settings.maxTextChars}`);
}

test("a room whose stored settings exceed today's limits still starts, clamps them, takes messages and a new PATCH", async () => {
  const rooms = { socketFirst: "legacy-socket", patchFirst: "legacy-patch", statsFirst: "legacy-stats" };
  const protoRoom = "legacy-proto";
  const lastSeq: Record<string, number> = {};
  // Before: each room has a log and settings an operator changed (at today's maximum, the closest the
  // current code allows to the older value the storage will hold).
  for (const room of Object.values(rooms)) {
    const patched = await patchSettings(room, { maxTextChars: LIMITS.maxTextChars });
    assert.equal(patched.status, 200, `${room}: PATCH ${JSON.stringify(patched.body)}`);
    const { socket } = await joinRoom(room, "alice");
    for (let i = 1; i <= 3; i++) {
      const { ack, error } = await sendOne(socket, i, `${room} before ${i}`);
      assert.ok(ack, `${room}: ${JSON.stringify(error)}`);
      lastSeq[room] = ack.seq;
    }
    socket.ws.close();
  }
  const socketBefore = await joinRoom(protoRoom, "dave");
  assert.ok((await sendOne(socketBefore.socket, 1, "before")).ack);
  socketBefore.socket.ws.close();
  await server.kill();

  // A PATCH stored only the field the operator set, not the defaults beside it.
  assert.deepEqual((await roomStorage(rooms.socketFirst)).settings, { maxTextChars: LIMITS.maxTextChars });
  // Keys no setting has, named like Object's prototype members (PROTOCOL §6 settings: a room always starts).
  assert.deepEqual((await roomStorage(protoRoom, { settings: PROTOTYPE_SETTINGS })).settings, PROTOTYPE_SETTINGS);
  // The stored value an older, higher limit allowed.
  for (const room of Object.values(rooms)) {
    const stored = await roomStorage(room, { settings: LEGACY_SETTINGS });
    assert.equal(stored.where?.roomId, room, `surgery reached another object: ${JSON.stringify(stored).slice(0, 300)}`);
    assert.equal(stored.meta?.lastSeq, lastSeq[room], `${room}: the stored log is the room's`);
    assert.deepEqual(stored.settings, LEGACY_SETTINGS);
  }
  const mark = server.logMark();
  await server.start();

  // 1. First touch is a member's socket: welcome, then messages are taken at the next seqs.
  {
    const room = rooms.socketFirst;
    const { socket, welcome } = await joinRoom(room, "alice");
    assert.equal(welcome.lastSeq, lastSeq[room], `${room}: the log survived the restart`);
    await logged(mark, clampWarning(room), room);
    const first = await sendOne(socket, 100, "after the restart");
    assert.ok(first.ack, `${room}: send after restart refused: ${JSON.stringify(first.error)}`);
    assert.equal(first.ack.seq, lastSeq[room]! + 1);
    // The limit in force is a valid one: today's maximum fits, one more character does not.
    const atLimit = await sendOne(socket, 101, "x".repeat(LIMITS.maxTextChars));
    assert.ok(atLimit.ack, `${room}: a text of ${LIMITS.maxTextChars} chars refused: ${JSON.stringify(atLimit.error)}`);
    assert.equal(atLimit.ack.seq, lastSeq[room]! + 2);
    const settings = (await stats(room)).settings;
    assertSensible(settings, room, "GET stats after the restart");
    assert.equal(settings.maxTextChars, LIMITS.maxTextChars, `${room}: ${LEGACY_MAX_TEXT_CHARS} clamped to today's maximum`);
    // The operator changes settings again, and the room enforces the new value at once.
    const patched = await patchSettings(room, { maxTextChars: 2_000 });
    assert.equal(patched.status, 200, `${room}: PATCH after the restart ${patched.status} ${JSON.stringify(patched.body).slice(0, 600)}`);
    assertSensible(patched.body.settings, room, "the PATCH answer");
    assert.equal(patched.body.settings.maxTextChars, 2_000);
    const tooLong = await sendOne(socket, 102, "y".repeat(2_001));
    assert.equal(tooLong.error?.code, "text_too_long", `${room}: ${JSON.stringify(tooLong)}`);
    const fits = await sendOne(socket, 103, "y".repeat(2_000));
    assert.equal(fits.ack?.seq, lastSeq[room]! + 3, `${room}: ${JSON.stringify(fits)}`);
    lastSeq[room] = fits.ack.seq;
    socket.ws.close();
  }

  // 2. First touch is the operator's PATCH, the repair an operator would try.
  {
    const room = rooms.patchFirst;
    const patched = await patchSettings(room, { slowModeMs: 0 });
    assert.equal(patched.status, 200, `${room}: PATCH as the first request after the restart: ${patched.status} ${JSON.stringify(patched.body).slice(0, 600)}`);
    assertSensible(patched.body.settings, room, "the PATCH answer");
    assert.equal(patched.body.settings.maxTextChars, LIMITS.maxTextChars);
    await logged(mark, clampWarning(room), room);
    assertSensible((await stats(room)).settings, room, "GET stats");
    const { socket, welcome } = await joinRoom(room, "bob");
    assert.equal(welcome.lastSeq, lastSeq[room]);
    const sent = await sendOne(socket, 1, "after the repair");
    assert.equal(sent.ack?.seq, lastSeq[room]! + 1, `${room}: ${JSON.stringify(sent)}`);
    socket.ws.close();
  }

  // 3. First touch is the operator reading stats (and the admin API's detail view).
  {
    const room = rooms.statsFirst;
    const body = await stats(room);
    assert.equal(body.lastSeq, lastSeq[room]);
    assertSensible(body.settings, room, "GET stats as the first request after the restart");
    await logged(mark, clampWarning(room), room);
    const detail = await server.fetchJson(`/admin/rooms/${room}`, { token: await operator() });
    assert.equal(detail.status, 200, `${room}: GET /admin/rooms/${room} ${detail.status} ${JSON.stringify(detail.body).slice(0, 600)}`);
    assertSensible(detail.body.settings, room, "the admin detail");
    const history = await server.fetchJson(`/parties/room/${room}/history?limit=10`, { token: await server.token("carol") });
    assert.equal(history.status, 200, `${room}: history ${history.status} ${JSON.stringify(history.body).slice(0, 300)}`);
    assert.equal(history.body.events.length, lastSeq[room]);
    const { socket } = await joinRoom(room, "carol");
    const sent = await sendOne(socket, 1, "after stats");
    assert.equal(sent.ack?.seq, lastSeq[room]! + 1, `${room}: ${JSON.stringify(sent)}`);
    socket.ws.close();
  }

  // 4. Keys named like Object's prototype members: dropped with a warning, the real setting kept.
  {
    const { socket, welcome } = await joinRoom(protoRoom, "dave");
    assert.equal(welcome.lastSeq, 1);
    await logged(mark, `room ${protoRoom}: stored settings repaired: "constructor": no such setting any more; dropped; "toString": no such setting any more; dropped`, protoRoom);
    const settings = (await stats(protoRoom)).settings;
    assertSensible(settings, protoRoom, "GET stats");
    assert.equal(settings.slowModeMs, 5, `${protoRoom}: the valid stored setting is kept`);
    const sent = await sendOne(socket, 2, "after the restart");
    assert.equal(sent.ack?.seq, 2, `${protoRoom}: ${JSON.stringify(sent)}`);
    socket.ws.close();
  }

  // What the operator set after the restart is what the room loads next time.
  await server.kill();
  await server.start();
  const settings = (await stats(rooms.socketFirst)).settings;
  assertSensible(settings, rooms.socketFirst, "GET stats after a second restart");
  assert.equal(settings.maxTextChars, 2_000, "the PATCH made after the clamp survives a restart");
  const { socket } = await joinRoom(rooms.socketFirst, "alice");
  const sent = await sendOne(socket, 200, "after the second restart");
  assert.equal(sent.ack?.seq, lastSeq[rooms.socketFirst]! + 1, JSON.stringify(sent));
  socket.ws.close();
  await server.kill();

  // Storage holds what operators set (the legacy fields, repaired where a PATCH stored them again), never
  // the defaults; a room that was only read keeps its stored value as it was (loading rewrites nothing).
  const stored = async (room: string) => (await roomStorage(room)).settings;
  const legacyRepaired = { ...LEGACY_SETTINGS, maxTextChars: LIMITS.maxTextChars };
  assert.deepEqual(await stored(rooms.socketFirst), { ...legacyRepaired, maxTextChars: 2_000 });
  assert.deepEqual(await stored(rooms.patchFirst), { ...legacyRepaired, slowModeMs: 0 });
  assert.deepEqual(await stored(rooms.statsFirst), LEGACY_SETTINGS);
  assert.deepEqual(await stored(protoRoom), PROTOTYPE_SETTINGS);
});
