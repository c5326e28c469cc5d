/** The room's storage key layout (party/core/room-keys.ts): one module, disjoint families. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ROOM_KEYS, eventKey, readKey, sessionKey, EVENT_PREFIX } from "../../party/core/room-keys.ts";

test("no room key prefix is a prefix of another, and no single key falls under one", () => {
  const { single, prefixes } = ROOM_KEYS;
  assert.equal(new Set(prefixes).size, prefixes.length);
  for (const a of prefixes) {
    for (const b of prefixes) if (a !== b) assert.equal(b.startsWith(a), false, `${b} starts with ${a}`);
    for (const key of single) assert.equal(key.startsWith(a), false, `${key} falls under ${a}`);
  }
  assert.equal(new Set(single).size, single.length);
});

test("event keys sort by seq as strings (storage.list returns the log in order)", () => {
  const keys = [1, 2, 9, 10, 99, 100, 123456789].map(eventKey);
  assert.deepEqual([...keys].sort(), keys);
  assert.ok(keys.every((key) => key.startsWith(EVENT_PREFIX)));
  assert.equal(sessionKey("alice", "s1"), "s:alice:s1");
  assert.equal(readKey("alice"), "r:alice");
});

test("every storage key or prefix written in party/room, party/archive and party/core comes from room-keys.ts", async () => {
  const { readFileSync, readdirSync } = await import("node:fs");
  const { join } = await import("node:path");
  const root = join(import.meta.dirname, "..", "..", "party");
  const offenders: string[] = [];
  for (const dir of ["room", "archive", "core"]) {
    for (const name of readdirSync(join(root, dir))) {
      if (!name.endsWith(".ts") || (dir === "core" && name === "room-keys.ts")) continue;
      const text = readFileSync(join(root, dir, name), "utf8");
      // A key literal defined outside the module: `const X_PREFIX = "..."` or `const X_KEY = "..."`.
      for (const match of text.matchAll(/const [A-Z_]+_(?:PREFIX|KEY)\s*=\s*["'`]/g)) offenders.push(`${dir}/${name}: ${match[0]}`);
    }
  }
  assert.deepEqual(offenders, []);
});
