/** The outbox arithmetic (party/archive/plan.ts) and snippets (party/archive/snippet.ts), on plain data. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { nextBatch, pruneFloor, replayableEvents, retryDelayMs, splitRange } from "../../party/archive/plan.ts";
import { queryTerms, snippet } from "../../party/archive/snippet.ts";

test("nextBatch drains only committed seqs after the cursor, at most batchRows", () => {
  assert.deepEqual(nextBatch(0, 10, 500), { from: 1, to: 10 });
  assert.deepEqual(nextBatch(10, 1000, 500), { from: 11, to: 510 });
  assert.deepEqual(nextBatch(10, 10, 500), { from: 11, to: 10 }, "nothing to do");
});

test("pruneFloor never passes the archive cursor nor enters the retention window, and never moves back", () => {
  assert.equal(pruneFloor({ cursor: 100, prunedThrough: 0 }, 100, 50), 50);
  assert.equal(pruneFloor({ cursor: 20, prunedThrough: 0 }, 100, 50), 20, "only what the archive confirmed");
  assert.equal(pruneFloor({ cursor: 100, prunedThrough: 70 }, 100, 50), 70, "never lower than already pruned");
  assert.equal(pruneFloor({ cursor: 10, prunedThrough: 0 }, 30, 50), 0);
});

test("splitRange: archive and room parts touch without overlap", () => {
  assert.deepEqual(splitRange(1, 51, 0), { room: [1, 51] });
  assert.deepEqual(splitRange(1, 51, 100), { archive: [1, 51] });
  assert.deepEqual(splitRange(91, 111, 100), { archive: [91, 101], room: [101, 111] });
  assert.deepEqual(splitRange(101, 111, 100), { room: [101, 111] });
  for (let p = 0; p < 30; p++) {
    const { archive, room } = splitRange(5, 25, p);
    const seqs = [...(archive ? range(archive) : []), ...(room ? range(room) : [])];
    assert.deepEqual(seqs, range([5, 25]), `prunedThrough ${p}`);
  }
});

test("retryDelayMs: full jitter under a growing ceiling, capped", () => {
  assert.equal(retryDelayMs(1, 500, 30_000, () => 0.999), 499);
  assert.equal(retryDelayMs(3, 500, 30_000, () => 0.999), 1998);
  assert.equal(retryDelayMs(40, 500, 30_000, () => 0.999), 29_970);
  assert.equal(retryDelayMs(5, 500, 30_000, () => 0), 125, "a floor so a failing database is not hammered");
});

test("replayableEvents: resume never reaches below what the room still stores", () => {
  assert.equal(replayableEvents(10_000, 500, 0), 500);
  assert.equal(replayableEvents(10_000, 500, 450), 50);
  assert.equal(replayableEvents(20, 500, 450), 20);
});

test("queryTerms: NFKC, ASCII lower case, whitespace (ideographic too) splits, duplicates dropped", () => {
  assert.deepEqual(queryTerms("  Deploy  ＦＡＩＬＥＤ　既読 deploy ", 8), ["deploy", "failed", "既読"]);
  assert.deepEqual(queryTerms("a b c d", 2), ["a", "b"]);
  assert.deepEqual(queryTerms(" \u3000 ", 8), []);
});

test("snippet: highlights on the original text, across normalisation and length changes", () => {
  assert.deepEqual(snippet("既読がつかない", ["既読"]), { text: "既読がつかない", highlights: [[0, 2]] });
  assert.deepEqual(snippet("Deploy and DEPLOY", ["deploy"]).highlights, [[0, 6], [11, 17]]);
  const wide = snippet("see ＡＢＣ here", ["abc"]);
  assert.equal(wide.text.slice(wide.highlights[0]![0], wide.highlights[0]![1]), "ＡＢＣ");
  const long = snippet("x".repeat(100) + "needle" + "y".repeat(200), ["needle"], 10);
  assert.equal(long.text.slice(long.highlights[0]![0], long.highlights[0]![1]), "needle");
  assert.ok(long.text.startsWith("…") && long.text.endsWith("…"));
  const emoji = snippet("😀".repeat(30) + "hit", ["hit"], 5);
  assert.ok(!/^…[\udc00-\udfff]/.test(emoji.text), "no half surrogate pair at the cut");
});

function range([from, before]: [number, number]): number[] {
  return Array.from({ length: before - from }, (_, i) => from + i);
}
