/** SocketIndex: presence and one-socket-per-session (PROTOCOL R13) by lookup, checked against a brute-force scan. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { SocketIndex, type SocketEntry } from "../../party/core/socket-index.ts";

test("first socket joins, last socket leaves; observers are never presence", () => {
  const index = new SocketIndex();
  assert.deepEqual(index.add("a1", { user: "alice", session: "phone", observer: false }), { joined: true });
  assert.deepEqual(index.add("a2", { user: "alice", session: "laptop", observer: false }), { joined: false });
  assert.deepEqual(index.add("o1", { user: "ops", session: "dash", observer: true }), { joined: false });
  assert.equal(index.isPresent("ops"), false);
  assert.deepEqual(index.presentUsers(), ["alice"]);
  assert.equal(index.size, 3);
  assert.deepEqual(index.remove("a1"), { left: false, user: "alice" });
  assert.deepEqual(index.remove("a2"), { left: true, user: "alice" });
  assert.deepEqual(index.remove("a2"), { left: false }, "an unknown socket changes nothing");
  assert.deepEqual(index.remove("o1"), { left: false, user: "ops" });
  assert.equal(index.size, 0);
});

test("a second socket of one session replaces the first, whose later close keeps the new one", () => {
  const index = new SocketIndex();
  index.add("s1", { user: "bob", session: "tab", observer: false });
  assert.deepEqual(index.add("s2", { user: "bob", session: "tab", observer: false }), { joined: false, replaces: "s1" });
  assert.deepEqual(index.remove("s1"), { left: false, user: "bob" });
  assert.deepEqual(index.add("s3", { user: "bob", session: "tab", observer: false }), { joined: false, replaces: "s2" }, "s2 still held the session");
});

test("random opens and closes agree with a scan over every socket", () => {
  const index = new SocketIndex();
  const open = new Map<string, SocketEntry>();
  let seed = 11;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let step = 0; step < 20_000; step++) {
    if (open.size > 0 && random() < 0.45) {
      const ids = [...open.keys()];
      const id = ids[Math.floor(random() * ids.length)]!;
      const entry = open.get(id)!;
      open.delete(id);
      const stillThere = [...open.values()].some((e) => e.user === entry.user && !e.observer);
      assert.equal(index.remove(id).left, !entry.observer && !stillThere);
    } else {
      const entry = { user: `u${Math.floor(random() * 20)}`, session: `s${Math.floor(random() * 3)}`, observer: random() < 0.1 };
      const id = `c${step}`;
      const wasPresent = [...open.values()].some((e) => e.user === entry.user && !e.observer);
      const holder = [...open].filter(([, e]) => e.user === entry.user && e.session === entry.session).map(([k]) => k).at(-1);
      const result = index.add(id, entry);
      assert.equal(result.joined, !entry.observer && !wasPresent);
      assert.equal(result.replaces, holder);
      open.set(id, entry);
      // As the room does (PROTOCOL R13): the replaced socket is closed, and its close arrives later.
      if (result.replaces !== undefined) {
        const replaced = open.get(result.replaces)!;
        open.delete(result.replaces);
        const stillThere = [...open.values()].some((e) => e.user === replaced.user && !e.observer);
        assert.equal(index.remove(result.replaces).left, !replaced.observer && !stillThere);
      }
    }
    const present = [...new Set([...open.values()].filter((e) => !e.observer).map((e) => e.user))].sort();
    assert.deepEqual(index.presentUsers(), present);
  }
});
