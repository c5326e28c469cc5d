import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backoffDelay } from "../../client/backoff.ts";

describe("backoffDelay (full jitter)", () => {
  it("the first retry comes within 0-500 ms with the defaults", () => {
    assert.equal(backoffDelay(0, { random: () => 0 }), 0);
    assert.ok(backoffDelay(0, { random: () => 0.999999 }) <= 500);
    for (let i = 0; i < 1000; i++) assert.ok(backoffDelay(0) <= 500);
  });

  it("spans random() * min(cap, base * 2^attempt)", () => {
    const half = { baseMs: 100, capMs: 10_000, random: () => 0.5 };
    assert.deepEqual([0, 1, 2, 3, 4].map((a) => backoffDelay(a, half)), [50, 100, 200, 400, 800]);
    assert.equal(backoffDelay(3, { ...half, random: () => 0 }), 0, "full jitter: the window starts at 0");
  });

  it("never exceeds the cap, even for huge attempts", () => {
    const max = { baseMs: 250, capMs: 10_000, random: () => 0.9999999 };
    assert.ok(backoffDelay(10, max) < 10_000);
    assert.ok(backoffDelay(10, max) > 9_990);
    assert.ok(backoffDelay(5000, max) < 10_000);
    assert.ok(Number.isFinite(backoffDelay(5000, max)));
  });

  it("treats a negative attempt as the first", () => {
    assert.equal(backoffDelay(-3, { baseMs: 200, random: () => 0.5 }), 100);
  });
});
