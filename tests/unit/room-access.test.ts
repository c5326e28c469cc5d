import { test } from "node:test";
import assert from "node:assert/strict";
import { ConnectQuery, HistoryQuery } from "../../party/protocol/index.ts";
import { mayJoin } from "../../party/core/access.ts";

const user = (id: string) => ({ id, name: id });

test("a DM room admits its two participants only, and only in canonical (sorted) form", () => {
  assert.equal(mayJoin("dm:alice:bob", user("alice")), true);
  assert.equal(mayJoin("dm:alice:bob", user("bob")), true);
  assert.equal(mayJoin("dm:alice:bob", user("carol")), false);
  assert.equal(mayJoin("dm:alice:bob", { id: "ops", name: "ops", role: "operator" }), false);
  assert.equal(mayJoin("dm:bob:alice", user("alice")), false, "unsorted ids would make a second room for the pair");
  assert.equal(mayJoin("dm:alice:alice", user("alice")), false);
  assert.equal(mayJoin("dm:alice:bob:x", user("alice")), false);
  assert.equal(mayJoin("dm%3Aalice%3Abob", user("carol")), false, "an encoded DM id is guarded too");
  assert.equal(mayJoin("general", user("carol")), true);
});

test("connect and history queries are parsed with zod", () => {
  assert.equal(ConnectQuery.safeParse({ session: "s1" }).success, true);
  assert.equal(ConnectQuery.safeParse({ session: "s1", epoch: "E" }).success, false, "epoch without lastSeq");
  assert.deepEqual(ConnectQuery.parse({ session: "s1", epoch: "E", lastSeq: "7" }), { session: "s1", epoch: "E", lastSeq: 7 });
  assert.equal(ConnectQuery.safeParse({ session: "bad id" }).success, false);
  assert.deepEqual(HistoryQuery.parse({}), { limit: 50 });
  assert.equal(HistoryQuery.safeParse({ limit: "100000" }).success, false);
  assert.equal(HistoryQuery.safeParse({ before: "-1" }).success, false);
});
