/**
 * The HTTP read path's pure parts (party/core/log-view.ts, party/protocol/log-pages.ts): page arithmetic and
 * paths, versions that change exactly when a page's content does, redaction of a deleted message's edits,
 * the caching rules, ETag matching, and how a REST retry is told from a reused clientId.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { isSealed, pageOf, pageSeqs, parseLogPath, roomPathRest, type RoomEvent } from "../../party/protocol/index.ts";
import { cacheControl, isPublicLog, latestTag, matchesTag, moderatedView, outsideTargets, pageTag, retryOf } from "../../party/core/log-view.ts";

const author = { id: "alice", name: "Alice" };
const message = (seq: number, text: string, extra: Partial<Extract<RoomEvent, { kind: "message" }>> = {}): RoomEvent => ({ kind: "message", seq, ts: seq, author, clientId: `c${seq}`, text, ...extra });
const edit = (seq: number, target: number, text: string): RoomEvent => ({ kind: "edit", seq, ts: seq, author, clientId: `c${seq}`, target, text });
const del = (seq: number, target: number): RoomEvent => ({ kind: "delete", seq, ts: seq, author, clientId: `c${seq}`, target });
const rows = (events: RoomEvent[]) => events.map((event) => ({ event, json: JSON.stringify(event) }));

test("PROTOCOL R42: pages are fixed seq ranges of 100; a page is sealed once its last seq is committed", () => {
  assert.deepEqual(pageSeqs(1), { from: 1, through: 100 });
  assert.deepEqual(pageSeqs(3), { from: 201, through: 300 });
  fc.assert(fc.property(fc.integer({ min: 1, max: 10_000_000 }), (seq) => {
    const { from, through } = pageSeqs(pageOf(seq));
    return from <= seq && seq <= through;
  }));
  assert.equal(isSealed(1, 99), false);
  assert.equal(isSealed(1, 100), true);
  assert.equal(isSealed(2, 150), false);
  assert.equal(isSealed(0, 1000), false);
});

test("PROTOCOL R42: log paths parse strictly; anything else under log/ is bad, other routes are not log paths", () => {
  assert.deepEqual(roomPathRest("/parties/room/general/log/latest"), { roomId: "general", rest: ["log", "latest"] });
  assert.equal(roomPathRest("/parties/inbox/alice/log/latest"), undefined);
  assert.deepEqual(parseLogPath(["log", "latest"]), { kind: "latest" });
  assert.deepEqual(parseLogPath(["log", "page", "7"]), { kind: "page", page: 7 });
  assert.deepEqual(parseLogPath(["log", "page", "7", "Xk3_9aQ2LmPz", "0"]), { kind: "version", page: 7, epoch: "Xk3_9aQ2LmPz", version: 0 });
  for (const bad of [["log"], ["log", "page"], ["log", "page", "0"], ["log", "page", "-1"], ["log", "page", "01"], ["log", "page", "1", "e"], ["log", "page", "1", "e", "x"], ["log", "page", "1", "e", "01"], ["log", "page", "1", "e%20", "1"], ["log", "latest", "x"], ["log", "page", "99999999999999999"]]) {
    assert.equal(parseLogPath(bad), "bad", bad.join("/"));
  }
  assert.equal(parseLogPath(["history"]), undefined);
  assert.equal(parseLogPath([]), undefined);
});

test("PROTOCOL R42, R43: a page's version is the latest event that changed what it shows, and a deleted message's edits lose their text", () => {
  // Untouched: version 0, served as stored.
  const plain = rows([message(1, "a"), message(2, "b")]);
  assert.deepEqual(moderatedView(plain, new Map()), { jsons: plain.map((row) => row.json), version: 0 });
  // Edited in a later page: the version is the edit's seq.
  assert.equal(moderatedView(rows([message(1, "a2", { editedBy: 150 }), message(2, "b")]), new Map()).version, 150);
  // An edit in the page whose target (in the page) was deleted: its text goes, the version is the deletion.
  const inside = moderatedView(rows([message(1, "", { editedBy: 2, deletedBy: 300 }), edit(2, 1, "secret")]), new Map());
  assert.equal(inside.version, 300);
  assert.equal(JSON.parse(inside.jsons[1]!).text, "");
  assert.ok(!inside.jsons.join("").includes("secret"));
  // The target lies in an earlier page: the caller reads it (outsideTargets), and the same holds.
  const page2 = [edit(101, 5, "secret too"), message(102, "c"), del(103, 102)];
  assert.deepEqual(outsideTargets(page2), [5]);
  const deletedTarget = new Map([[5, message(5, "", { editedBy: 101, deletedBy: 250 })]]);
  const outside = moderatedView(rows(page2), deletedTarget);
  assert.equal(outside.version, 250);
  assert.ok(!outside.jsons.join("").includes("secret"));
  // A target that is only edited keeps its edits' text and does not move this page's version.
  const editedTarget = new Map([[5, message(5, "secret too", { editedBy: 101 })]]);
  assert.equal(moderatedView(rows(page2), editedTarget).version, 0);
});

test("PROTOCOL R42: versions only grow as a page is moderated, and every change of content changes the version", () => {
  // A random history of edits and deletions of page 1's messages, applied as the core rewrites records (PROTOCOL R8).
  fc.assert(
    fc.property(fc.array(fc.record({ del: fc.boolean(), target: fc.integer({ min: 1, max: 5 }) }), { maxLength: 20 }), (actions) => {
      const records = new Map<number, RoomEvent>([1, 2, 3, 4, 5].map((seq) => [seq, message(seq, `m${seq}`)]));
      const edits: RoomEvent[] = [];
      let seq = 100;
      let last = moderatedView(rows([...records.values()]), new Map());
      for (const action of actions) {
        const target = records.get(action.target) as Extract<RoomEvent, { kind: "message" }>;
        if (target.deletedBy !== undefined) continue;
        seq++;
        if (action.del) records.set(target.seq, { ...target, text: "", deletedBy: seq });
        else {
          records.set(target.seq, { ...target, text: `e${seq}`, editedBy: seq });
          edits.push(edit(seq, target.seq, `e${seq}`));
        }
        const page1 = moderatedView(rows([...records.values()]), new Map());
        if (!(page1.version > last.version) || JSON.stringify(page1.jsons) === JSON.stringify(last.jsons)) return false;
        last = page1;
        // The page holding the edits (page 2) never shows a deleted message's text.
        const page2 = moderatedView(rows(edits), records);
        for (const json of page2.jsons) {
          const shown = JSON.parse(json);
          if ((records.get(shown.target) as { deletedBy?: number }).deletedBy !== undefined && shown.text !== "") return false;
        }
      }
      return true;
    }),
  );
});

test("PROTOCOL R40, R42: the caching rules: pages forever, latest and redirects one interval (whole seconds, rounded down), errors never; shared only when public", () => {
  assert.equal(cacheControl("sealed", true, 1000), "public, max-age=31536000, immutable");
  assert.equal(cacheControl("sealed", false, 1000), "private, max-age=31536000, immutable");
  assert.equal(cacheControl("latest", true, 1999), "public, max-age=1");
  assert.equal(cacheControl("redirect", false, 5000), "private, max-age=5");
  assert.equal(cacheControl("error", true, 1000), "no-store");
  assert.equal(isPublicLog("room", { public: true }), true);
  assert.equal(isPublicLog("group", { public: true }), true);
  assert.equal(isPublicLog("dm", { public: true }), false);
  assert.equal(isPublicLog("room", { public: false }), false);
});

test("PROTOCOL R41, R42: ETags name what determines the body, and If-None-Match matches strong, weak, lists and *", () => {
  const tag = pageTag("ep", 3, 250);
  assert.equal(tag, '"P1.ep.3.250"');
  assert.notEqual(pageTag("ep", 3, 251), tag);
  assert.notEqual(pageTag("ep2", 3, 250), tag);
  assert.notEqual(latestTag("ep", 10, 1000), latestTag("ep", 11, 1000));
  assert.notEqual(latestTag("ep", 10, 1000), latestTag("ep", 10, 2000));
  assert.equal(matchesTag(tag, tag), true);
  assert.equal(matchesTag(`W/${tag}`, tag), true);
  assert.equal(matchesTag(`"x", ${tag}`, tag), true);
  assert.equal(matchesTag("*", tag), true);
  assert.equal(matchesTag('"P1.ep.3.25"', tag), false);
  assert.equal(matchesTag(null, tag), false);
});

test("PROTOCOL R44: a known clientId is a retry when the body is the stored message's, reused otherwise", () => {
  const stored = message(7, "hello", { attachments: [{ id: "a".repeat(24), name: "a.png", type: "image/png", size: 1 }] });
  assert.equal(retryOf(stored, { clientId: "c7", text: "hello" }), "reused", "a message with files was not a text-only post");
  assert.equal(retryOf(message(7, "hello"), { clientId: "c7", text: "hello!" }), "reused");
  assert.equal(retryOf(message(7, "hello"), { clientId: "c7", text: "hello" }), "retry");
  // Edited or deleted since: what was posted is gone, so it can only be answered as the retry it may be.
  assert.equal(retryOf(message(7, "changed", { editedBy: 9 }), { clientId: "c7", text: "hello" }), "retry");
  assert.equal(retryOf(message(7, "", { deletedBy: 9 }), { clientId: "c7", text: "anything" }), "retry");
  // The pair named another kind of command (an edit sent with that clientId over a socket).
  assert.equal(retryOf(edit(7, 1, "hello"), { clientId: "c7", text: "hello" }), "reused");
  assert.equal(retryOf(undefined, { clientId: "c7", text: "hello" }), "reused");
});
