import { test } from "node:test";
import assert from "node:assert/strict";
import { renderMetrics } from "../../party/directory/metrics.ts";
import type { RoomEntry } from "../../party/protocol/admin-schema.ts";
import { Histogram } from "../../party/core/histogram.ts";
import { parsePrometheus, seriesKey } from "../helpers/prometheus.ts";

function entry(room: string, overrides: Partial<RoomEntry> = {}): RoomEntry {
  const latency = new Histogram([1, 10, 100]);
  for (const ms of [0.5, 3, 3, 50, 5000]) latency.observe(ms);
  return {
    room,
    kind: "room",
    bootId: "b",
    epoch: "E",
    lastSeq: 10,
    connections: 2,
    observers: 1,
    messagesTotal: 7,
    messagesPerSecond: 1.5,
    errors: { bad_frame: 2 },
    ackLatency: latency.snapshot(),
    archiveLag: 0,
    reportFailures: 0,
    updatedAt: 0,
    ...overrides,
  };
}

test("metrics: strict text format, per room and in total, histograms cumulative in seconds", () => {
  const text = renderMetrics([entry("a"), entry("dm:x:y", { kind: "dm", messagesTotal: 3, connections: 1, errors: { bad_frame: 1, muted: 4 } })]);
  const series = parsePrometheus(text);
  assert.equal(series.get("kaiwa_rooms"), 2);
  assert.equal(series.get(seriesKey("kaiwa_room_messages_total", { room: "a" })), 7);
  assert.equal(series.get(seriesKey("kaiwa_room_messages_total", { room: "dm:x:y" })), 3);
  assert.equal(series.get("kaiwa_messages_total"), 10);
  assert.equal(series.get("kaiwa_connections"), 3);
  assert.equal(series.get(seriesKey("kaiwa_errors_total", { code: "bad_frame" })), 3);
  assert.equal(series.get(seriesKey("kaiwa_errors_total", { code: "muted" })), 4);
  assert.equal(series.get(seriesKey("kaiwa_room_errors_total", { room: "dm:x:y", code: "muted" })), 4);
  assert.equal(series.get(seriesKey("kaiwa_room_ack_latency_seconds_bucket", { room: "a", le: "0.001" })), 1);
  assert.equal(series.get(seriesKey("kaiwa_room_ack_latency_seconds_bucket", { room: "a", le: "0.01" })), 3);
  assert.equal(series.get(seriesKey("kaiwa_room_ack_latency_seconds_bucket", { room: "a", le: "0.1" })), 4);
  assert.equal(series.get(seriesKey("kaiwa_room_ack_latency_seconds_bucket", { room: "a", le: "+Inf" })), 5);
  assert.equal(series.get(seriesKey("kaiwa_ack_latency_seconds_count")), 10);
  assert.equal(series.get(seriesKey("kaiwa_ack_latency_seconds_sum")), 2 * 5.0565);
  assert.equal(series.get("kaiwa_archive_lag_events"), 0);
});

test("metrics: label values are escaped, and an empty directory still renders valid text", () => {
  const series = parsePrometheus(renderMetrics([entry('we"ird\\room')]));
  assert.equal(series.get(seriesKey("kaiwa_room_connections", { room: 'we"ird\\room' })), 2);
  const empty = parsePrometheus(renderMetrics([]));
  assert.equal(empty.get("kaiwa_rooms"), 0);
  assert.equal(empty.get("kaiwa_ack_latency_seconds_count"), 0);
});

test("the strict parser refuses what Prometheus would refuse", () => {
  assert.throws(() => parsePrometheus("x 1\n"), /before its TYPE/);
  assert.throws(() => parsePrometheus("# TYPE x counter\nx -1\n"), /negative counter/);
  assert.throws(() => parsePrometheus("# TYPE x gauge\nx 1\nx 2\n"), /repeated series/);
  assert.throws(() => parsePrometheus("# TYPE x gauge\nx{a=1} 1\n"), /bad labels/);
  assert.throws(() => parsePrometheus("# TYPE x gauge\nx one\n"), /bad value/);
  assert.throws(() => parsePrometheus("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 1\n"), /cumulative/);
  assert.throws(() => parsePrometheus("# TYPE x gauge\nx 1"), /newline/);
});
