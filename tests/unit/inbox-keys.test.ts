/** The inbox's storage key layout (party/inbox/keys.ts): disjoint prefixes, and the push queue writes under its own. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type * as Party from "partykit/server";
import * as keys from "../../party/inbox/keys.ts";
import { PushQueue } from "../../party/adapters/push.ts";

const prefixes = [keys.ENTRY_PREFIX, keys.AWAY_PREFIX, keys.PRESENCE_PREFIX, keys.OWED_PREFIX, keys.PUSH_JOB_PREFIX];

describe("inbox storage keys", () => {
  it("no prefix is a prefix of another, and the meta key falls under none", () => {
    for (const a of prefixes) {
      for (const b of prefixes) if (a !== b) assert.equal(b.startsWith(a), false, `${b} starts with ${a}`);
      assert.equal(keys.META_KEY.startsWith(a), false);
    }
    assert.equal(new Set(prefixes).size, prefixes.length);
  });

  it("builds keys from room and user ids as written, and reads the id back", () => {
    assert.equal(keys.entryKey("dm:alice:bob"), "c:dm:alice:bob");
    assert.equal(keys.awayKey("dm:alice:bob"), "q:dm:alice:bob");
    assert.equal(keys.owedKey("dm:alice:bob"), "o:dm:alice:bob");
    assert.equal(keys.presenceKey("bob"), "p:bob");
    assert.equal(keys.keyedId(keys.ENTRY_PREFIX, keys.entryKey("dm:alice:bob")), "dm:alice:bob");
    assert.equal(keys.keyedId(keys.PRESENCE_PREFIX, keys.presenceKey("bob")), "bob");
  });

  it("the push queue lists and writes its jobs under PUSH_JOB_PREFIX", async () => {
    const listed: Array<string | undefined> = [];
    const written: string[] = [];
    const storage = {
      list: async (options?: { prefix?: string }) => {
        listed.push(options?.prefix);
        return new Map();
      },
      put: async (entries: Record<string, unknown>) => {
        written.push(...Object.keys(entries));
      },
      delete: async () => true,
    } as unknown as Party.Storage;
    const queue = new PushQueue(storage, { url: "http://127.0.0.1:9/push", secret: "s" }, () => {}, keys.PUSH_JOB_PREFIX);
    await queue.enqueue([{ user: "alice", room: "dm:alice:bob", seq: 1, ts: 1, from: { id: "bob", name: "Bob" }, preview: "hi" }]);
    await new Promise((resolve) => setImmediate(resolve)); // the run it starts lists the queue
    assert.equal(written.length, 1);
    assert.ok(written.every((key) => key.startsWith(keys.PUSH_JOB_PREFIX)), `written: ${written.join(", ")}`);
    assert.ok(listed.length >= 2);
    assert.ok(listed.every((prefix) => prefix === keys.PUSH_JOB_PREFIX), `listed: ${listed.join(", ")}`);
  });
});
