/**
 * Loading a room's stored settings (party/core/settings.ts) on plain data: whatever the storage holds, the
 * room gets valid settings, keeps only what operators set, and every repair names the key and why.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { LIMITS, RoomSettings } from "../../party/protocol/index.ts";
import { loadSettings, patchSettings } from "../../party/core/settings.ts";

const DEFAULTS = RoomSettings.parse({});

test("nothing stored: the code's defaults, no overrides, nothing repaired", () => {
  assert.deepEqual(loadSettings(undefined), { settings: DEFAULTS, overrides: {}, repairs: [] });
});

test("a stored value that is not an object: the defaults, with the repair said", () => {
  for (const stored of [null, 5, "x", [1, 2], true]) {
    const loaded = loadSettings(stored);
    assert.deepEqual(loaded.settings, DEFAULTS, JSON.stringify(stored));
    assert.deepEqual(loaded.overrides, {});
    assert.deepEqual(loaded.repairs, ["settings: the stored value is not an object; using the defaults"], JSON.stringify(stored));
  }
});

test("valid overrides are kept as set, and only they are overrides", () => {
  const loaded = loadSettings({ slowModeMs: 5, whoMayPost: "operators" });
  assert.deepEqual(loaded.overrides, { slowModeMs: 5, whoMayPost: "operators" });
  assert.deepEqual(loaded.settings, { ...DEFAULTS, slowModeMs: 5, whoMayPost: "operators" });
  assert.deepEqual(loaded.repairs, []);
});

test("an unknown key is dropped, the rest kept", () => {
  const loaded = loadSettings({ colour: "red", slowModeMs: 7 });
  assert.deepEqual(loaded.overrides, { slowModeMs: 7 });
  assert.deepEqual(loaded.repairs, ['"colour": no such setting any more; dropped']);
});

test("keys that name Object's prototype members are no settings: dropped, never a crash", () => {
  // Each once made loadSettings throw (`field.safeParse is not a function`), so the room could not start.
  for (const key of ["constructor", "toString", "hasOwnProperty", "valueOf"]) {
    const loaded = loadSettings({ [key]: 1, slowModeMs: 5 });
    assert.deepEqual(loaded.overrides, { slowModeMs: 5 }, key);
    assert.deepEqual(loaded.settings, { ...DEFAULTS, slowModeMs: 5 }, key);
    assert.deepEqual(loaded.repairs, [`${JSON.stringify(key)}: no such setting any more; dropped`], key);
  }
  // JSON.parse makes `__proto__` an own key (an object literal would set the prototype instead).
  const stored = JSON.parse('{"__proto__":{"slowModeMs":9},"slowModeMs":5}');
  const loaded = loadSettings(stored);
  assert.deepEqual(loaded.overrides, { slowModeMs: 5 });
  assert.equal(Object.getPrototypeOf(loaded.overrides), Object.prototype, "the prototype of the overrides is untouched");
  assert.deepEqual(loaded.settings, { ...DEFAULTS, slowModeMs: 5 });
  assert.deepEqual(loaded.repairs, ['"__proto__": no such setting any more; dropped']);
});

test("a value of the wrong type goes back to the default", () => {
  const loaded = loadSettings({ public: "yes", slowModeMs: "5", hosts: "alice", maxTextChars: null });
  assert.deepEqual(loaded.overrides, {});
  assert.deepEqual(loaded.settings, DEFAULTS);
  assert.deepEqual(loaded.repairs, [
    'public: "yes" is not valid any more; back to the default',
    'slowModeMs: "5" is not valid any more; back to the default',
    'hosts: "alice" is not valid any more; back to the default',
    "maxTextChars: null is not valid any more; back to the default",
  ]);
});

test("a number over a limit lowered since it was set is clamped to today's limit and kept as an override", () => {
  const legacy = LIMITS.maxTextChars + 2_000;
  const loaded = loadSettings({ whoMayPost: "everyone", maxTextChars: legacy, slowModeMs: 0 });
  assert.equal(loaded.settings.maxTextChars, LIMITS.maxTextChars);
  assert.deepEqual(loaded.overrides, { whoMayPost: "everyone", maxTextChars: LIMITS.maxTextChars, slowModeMs: 0 });
  assert.deepEqual(loaded.repairs, [`maxTextChars: ${legacy} is outside 1..${LIMITS.maxTextChars}; clamped to ${LIMITS.maxTextChars}`]);
  const under = loadSettings({ maxTextChars: 0 });
  assert.deepEqual(under.repairs, [`maxTextChars: 0 is outside 1..${LIMITS.maxTextChars}; clamped to 1`]);
  assert.equal(under.settings.maxTextChars, 1);
});

test("a number that is not whole is rounded, and the repair says so (not 'outside' a range it is in)", () => {
  const loaded = loadSettings({ maxTextChars: 12.7 });
  assert.equal(loaded.settings.maxTextChars, 13);
  assert.deepEqual(loaded.repairs, ["maxTextChars: 12.7 is not a whole number; rounded to 13"]);
  const both = loadSettings({ maxTextChars: LIMITS.maxTextChars + 0.5 });
  assert.equal(both.settings.maxTextChars, LIMITS.maxTextChars);
  assert.deepEqual(both.repairs, [`maxTextChars: ${LIMITS.maxTextChars + 0.5} is not a whole number and outside 1..${LIMITS.maxTextChars}; clamped to ${LIMITS.maxTextChars}`]);
  // Not finite: no number to round, the default.
  const infinite = loadSettings({ slowModeMs: Number.POSITIVE_INFINITY });
  assert.equal(infinite.settings.slowModeMs, DEFAULTS.slowModeMs);
  assert.deepEqual(infinite.overrides, {});
});

test("a patch adds to what operators set; the defaults are never stored", () => {
  const first = patchSettings({}, { slowModeMs: 5 });
  assert.deepEqual(first.overrides, { slowModeMs: 5 });
  const second = patchSettings(first.overrides, { maxTextChars: 2_000 });
  assert.deepEqual(second.overrides, { slowModeMs: 5, maxTextChars: 2_000 });
  assert.deepEqual(second.settings, { ...DEFAULTS, slowModeMs: 5, maxTextChars: 2_000 });
});
