/** The room's storage key layout (party/core/room-keys.ts): one module, disjoint families. */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as keys from "../../party/core/room-keys.ts";
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

test("every storage key or prefix written in party/room, archive, core and adapters comes from room-keys.ts (no inline prefix + id)", async () => {
  const { readFileSync, readdirSync } = await import("node:fs");
  const { join } = await import("node:path");
  const root = join(import.meta.dirname, "..", "..", "party");
  const offenders: string[] = [];
  // The room's own prefixes only (a bot id's prefix in a message is no storage key).
  const roomPrefixes = Object.keys(keys).filter((name) => name.endsWith("_PREFIX")).join("|");
  const inlineKey = new RegExp(`\\b(?:${roomPrefixes})\\s*\\+|\\$\\{(?:${roomPrefixes})\\}`, "g");
  for (const dir of ["room", "archive", "core", "adapters"]) {
    for (const name of readdirSync(join(root, dir))) {
      if (!name.endsWith(".ts") || (dir === "core" && name === "room-keys.ts")) continue;
      const text = readFileSync(join(root, dir, name), "utf8");
      // A key literal defined outside the module: `const X_PREFIX = "..."` or `const X_KEY = "..."`.
      for (const match of text.matchAll(/const [A-Z_]+_(?:PREFIX|KEY)\s*=\s*["'`]/g)) offenders.push(`${dir}/${name}: ${match[0]}`);
      // A key built inline from a prefix (`X_PREFIX + id`, `${X_PREFIX}…`) instead of the module's key function.
      for (const match of text.matchAll(inlineKey)) offenders.push(`${dir}/${name}: ${match[0]}`);
    }
  }
  assert.deepEqual(offenders, []);
});

/** One example of every key the room writes, from the module's own functions, with the family it belongs to. */
const EXAMPLES: Array<[string, string]> = [
  [keys.eventKey(7), keys.EVENT_PREFIX],
  [keys.sessionKey("alice", "s1"), keys.SESSION_PREFIX],
  [keys.readKey("alice"), keys.READ_PREFIX],
  [keys.cursorKey("alice"), keys.CURSOR_PREFIX],
  [keys.farewellKey("alice"), keys.FAREWELL_PREFIX],
  [keys.moderationKey("alice"), keys.MODERATION_PREFIX],
  [keys.auditKey(1_700_000_000_000, "n0nce123"), keys.AUDIT_PREFIX],
  [keys.archiveMemberKey("alice"), keys.ARCHIVE_MEMBER_PREFIX],
  [keys.archiveQueueKey("alice"), keys.ARCHIVE_QUEUE_PREFIX],
  [keys.uploadKey("up1"), keys.UPLOAD_PREFIX],
  [keys.mediaJobKey("up1"), keys.MEDIA_JOB_PREFIX],
  [keys.threadKey(5, 9), keys.THREAD_PREFIX],
  [keys.editHistoryKey(5, 9), keys.EDIT_HISTORY_PREFIX],
  [keys.reactionKey(5, "alice"), keys.REACTION_PREFIX],
];

test("every key function writes under its own family and no other: no key of one kind is read as another", () => {
  const { single, prefixes } = ROOM_KEYS;
  assert.equal(new Set(EXAMPLES.map(([, prefix]) => prefix)).size, prefixes.length, "one example per family");
  // Even user ids shaped like another family's keys stay in their own family.
  const tricky = ["u:x", "m:000000000001", "audit:", "meta", ""];
  const all = [...EXAMPLES, ...tricky.flatMap((id): Array<[string, string]> => [[keys.readKey(id), keys.READ_PREFIX], [keys.moderationKey(id), keys.MODERATION_PREFIX], [keys.uploadKey(id), keys.UPLOAD_PREFIX], [keys.farewellKey(id), keys.FAREWELL_PREFIX]])];
  for (const [key, own] of all) {
    assert.deepEqual(prefixes.filter((p) => key.startsWith(p)), [own], `${key} belongs to ${own} only`);
    assert.equal((single as readonly string[]).includes(key), false, `${key} is no single key`);
  }
});

test("the stored formats are the ones existing rooms hold (changing one would orphan their data)", () => {
  assert.equal(keys.eventKey(42), "m:000000000042");
  assert.equal(keys.sessionKey("alice", "s1"), "s:alice:s1");
  assert.equal(keys.cursorKey("alice"), "n:alice");
  assert.equal(keys.farewellKey("alice"), "f:alice");
  assert.equal(keys.moderationKey("alice"), "mod:alice");
  assert.equal(keys.auditKey(1_700_000_000_000, "n0nce123"), "audit:001700000000000:n0nce123");
  assert.equal(keys.archiveMemberKey("alice"), "am:alice");
  assert.equal(keys.archiveQueueKey("alice"), "aq:alice");
  assert.equal(keys.uploadKey("up1"), "u:up1");
  assert.equal(keys.mediaJobKey("up1"), "uj:up1");
  assert.equal(keys.threadKey(5, 9), "t:000000000005:000000000009");
  assert.equal(keys.editHistoryKey(5, 9), "eh:000000000005:000000000009");
  assert.equal(keys.reactionKey(5, "alice"), "rx:000000000005:alice");
  assert.deepEqual([keys.META_KEY, keys.SETTINGS_KEY, keys.MEMBERS_KEY, keys.WHERE_KEY, keys.ARCHIVE_STATE_KEY, keys.PINS_KEY, keys.MEDIA_USAGE_KEY], ["meta", "settings", "members", "where", "archive", "pins", "media"]);
});

test("keys read back to what they name", () => {
  assert.equal(keys.seqOfEventKey(keys.eventKey(123)), 123);
  assert.equal(keys.replySeqOfThreadKey(keys.threadKey(5, 9)), 9);
  assert.equal(keys.seqOfReactionKey(keys.reactionKey(5, "a:b")), 5, "a user id with a colon does not move the seq");
  const audits = [keys.auditKey(9, "z"), keys.auditKey(10, "a"), keys.auditKey(1_700_000_000_000, "m")];
  assert.deepEqual([...audits].sort(), audits, "audit keys sort by time (the audit route lists newest first)");
});

test("the directory's one key family keeps its stored format", async () => {
  const { ROOM_ENTRY_PREFIX, roomEntryKey } = await import("../../party/directory/keys.ts");
  assert.equal(roomEntryKey("dm:a:b"), "r:dm:a:b");
  assert.ok(roomEntryKey("x").startsWith(ROOM_ENTRY_PREFIX));
});
