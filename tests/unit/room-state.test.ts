/**
 * A room's loaded state (party/room/room-state.ts): a stored settings value never stops a room from
 * starting. Whatever loading it throws, the room starts on the defaults and says so in its log.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type * as Party from "partykit/server";
import { RoomSettings } from "../../party/protocol/index.ts";
import { META_KEY, SETTINGS_KEY } from "../../party/core/room-keys.ts";
import { RoomState } from "../../party/room/room-state.ts";

/** The three storage calls loading makes, over a map (values handed out as stored). */
function storageWith(entries: Record<string, unknown>): Party.Storage {
  const data = new Map(Object.entries(entries));
  return {
    get: async (key: string | string[]) => (Array.isArray(key) ? new Map(key.filter((k) => data.has(k)).map((k) => [k, data.get(k)])) : data.get(key)),
    put: async (key: string, value: unknown) => void data.set(key, value),
    list: async () => new Map(),
  } as unknown as Party.Storage;
}

const META = { epoch: "E1", lastSeq: 7, createdAt: 1 };

test("stored settings whose loading throws: the room starts on the defaults, with a warning naming the room", async (t) => {
  const warn = t.mock.method(console, "warn", () => {});
  // No stored value does this today; a getter that throws stands for any bug in loading them.
  const hostile = Object.defineProperty({}, "slowModeMs", { enumerable: true, get: () => { throw new Error("unreadable"); } });
  const state = new RoomState({ id: "r1", storage: storageWith({ [META_KEY]: META, [SETTINGS_KEY]: hostile }) });
  await state.start();
  assert.deepEqual(state.core.settings, RoomSettings.parse({}));
  assert.equal(state.core.committedSeq, 7, "the log's position is the stored one");
  assert.equal(warn.mock.callCount(), 1);
  assert.match(String(warn.mock.calls[0]!.arguments[0]), /^room r1: loading the stored settings failed; starting on the defaults/);
  // A patch afterwards stores only what the operator set, over nothing.
  const settings = await state.updateSettings({ slowModeMs: 5 }, (change) => change());
  assert.equal(settings.slowModeMs, 5);
  assert.equal(state.core.settings.slowModeMs, 5);
});

test("stored settings with prototype-named keys: repaired (not the fallback), the valid setting kept", async (t) => {
  const warn = t.mock.method(console, "warn", () => {});
  const stored = JSON.parse('{"constructor":1,"__proto__":{"slowModeMs":9},"slowModeMs":5}');
  const state = new RoomState({ id: "r2", storage: storageWith({ [META_KEY]: META, [SETTINGS_KEY]: stored }) });
  await state.start();
  assert.equal(state.core.settings.slowModeMs, 5);
  assert.equal(warn.mock.callCount(), 1);
  assert.equal(warn.mock.calls[0]!.arguments[0], 'room r2: stored settings repaired: "constructor": no such setting any more; dropped; "__proto__": no such setting any more; dropped');
});
