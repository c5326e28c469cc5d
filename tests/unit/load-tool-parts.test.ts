/** The bench's histogram percentiles and SVG chart on plain data. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Histogram } from "../../bench/lib/histogram.ts";
import { niceTicks, renderChart } from "../../bench/lib/svg-chart.ts";

test("histogram percentiles match the sorted samples at 0.1 ms resolution", () => {
  const h = new Histogram();
  const samples = Array.from({ length: 1000 }, (_, i) => (i + 1) / 10); // 0.1 .. 100 ms
  for (const s of [...samples].reverse()) h.record(s);
  assert.equal(h.count, 1000);
  assert.equal(h.percentile(50), 50);
  assert.equal(h.percentile(99), 99);
  assert.equal(h.percentile(100), 100);
  assert.equal(h.max, 100);
  assert.ok(Number.isNaN(new Histogram().percentile(50)));
});

test("histogram clamps beyond its range instead of losing samples", () => {
  const h = new Histogram();
  h.record(-1);
  h.record(120_000);
  assert.equal(h.count, 2);
  assert.equal(h.percentile(50), 0);
  assert.equal(h.percentile(100), 60_000);
});

test("nice ticks are round and cover the range", () => {
  assert.deepEqual(niceTicks(0, 97), [0, 20, 40, 60, 80]);
  assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  const ticks = niceTicks(0, 31_234);
  assert.equal(ticks[0], 0);
  assert.ok(ticks.at(-1)! <= 31_234 && ticks.at(-1)! > 31_234 * 0.7);
  assert.ok(ticks.every((t, i) => i === 0 || t - ticks[i - 1]! === ticks[1]! - ticks[0]!));
});

test("a chart is well-formed SVG with one polyline per series and a legend entry each", () => {
  const svg = renderChart({
    title: "a < b",
    xLabel: "x",
    yLabel: "y",
    logY: true,
    series: [
      { name: "kaiwa p99", color: "#000", points: [[1, 2], [2, 20], [3, 0]] },
      { name: "ws", color: "#f00", dashed: true, points: [[1, 1], [2, 5]] },
    ],
  });
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>$/);
  assert.equal(svg.match(/<polyline/g)?.length, 2);
  assert.ok(svg.includes("a &lt; b"), "text is escaped");
  assert.ok(svg.includes(">kaiwa p99<") && svg.includes(">ws<"));
  assert.ok(!svg.includes("NaN") && !svg.includes("Infinity"), "a zero on a log axis is dropped, not drawn");
});

test("every point stays inside the plot area (the top gridline is above the highest point)", () => {
  const svg = renderChart({ title: "t", xLabel: "x", yLabel: "y", series: [{ name: "s", color: "#000", points: [[0, 100], [1, 12_900], [2, 9_000]] }] });
  const ys = svg.match(/points="([^"]+)"/)![1]!.split(" ").map((p) => Number(p.split(",")[1]));
  assert.ok(Math.min(...ys) >= 40, `highest point drawn at y=${Math.min(...ys)}, above the plot's top margin`);
});
