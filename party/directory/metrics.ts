/**
 * Prometheus text exposition (format 0.0.4) of the directory's room reports: each family per room
 * (`kaiwa_room_*{room=...}`) and in total (`kaiwa_*`, summed over rooms). Pure: reports and clock come in.
 * Counters come from each room's process; when a room restarts its counters restart at 0, which
 * Prometheus' rate() treats as a counter reset.
 */
import type { HistogramSnapshot, RoomEntry } from "../protocol/admin-schema.ts";

type Sample = { labels: Record<string, string>; value: number };

export function renderMetrics(entries: RoomEntry[], evicted = 0): string {
  const out: string[] = [];
  const family = (name: string, type: "counter" | "gauge", help: string, samples: Sample[]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const s of samples) out.push(`${name}${labelText(s.labels)} ${num(s.value)}`);
  };
  const perRoom = (pick: (e: RoomEntry) => number): Sample[] => entries.map((e) => ({ labels: { room: e.room }, value: pick(e) }));
  const total = (pick: (e: RoomEntry) => number): Sample[] => [{ labels: {}, value: entries.reduce((sum, e) => sum + pick(e), 0) }];
  const both = (name: string, type: "counter" | "gauge", help: string, pick: (e: RoomEntry) => number) => {
    family(`kaiwa_room_${name}`, type, `${help} Per room.`, perRoom(pick));
    family(`kaiwa_${name}`, type, `${help} All rooms.`, total(pick));
  };

  family("kaiwa_rooms", "gauge", "Rooms known to the directory.", [{ labels: {}, value: entries.length }]);
  family("kaiwa_directory_rooms_evicted_total", "counter", "Rooms the directory dropped past its bound (PROTOCOL R81) since it started.", [{ labels: {}, value: evicted }]);
  both("messages_total", "counter", "Commands accepted durably (messages, edits, deletions) since the room process started.", (e) => e.messagesTotal);
  both("messages_per_second", "gauge", "Accepted commands per second over the room's last report interval.", (e) => e.messagesPerSecond);
  both("connections", "gauge", "Client sockets open now (operator observers excluded).", (e) => e.connections);
  both("observers", "gauge", "Operator observer sockets open now (dashboard live tails).", (e) => e.observers);
  both("archive_lag_events", "gauge", "Committed events the archive has not confirmed yet (0 without an archive).", (e) => e.archiveLag);
  both("report_failures_total", "counter", "Directory reports a room failed to deliver.", (e) => e.reportFailures);
  family("kaiwa_room_last_seq", "gauge", "Highest durable seq of the room.", perRoom((e) => e.lastSeq));

  const codes = [...new Set(entries.flatMap((e) => Object.keys(e.errors)))].sort();
  family(
    "kaiwa_room_errors_total",
    "counter",
    "Typed errors answered, by code. Per room.",
    entries.flatMap((e) => Object.entries(e.errors).map(([code, value]) => ({ labels: { room: e.room, code }, value }))),
  );
  family(
    "kaiwa_errors_total",
    "counter",
    "Typed errors answered, by code. All rooms.",
    codes.map((code) => ({ labels: { code }, value: entries.reduce((sum, e) => sum + (e.errors[code] ?? 0), 0) })),
  );

  out.push("# HELP kaiwa_room_ack_latency_seconds Time from accepting a command to its durable ack. Per room.", "# TYPE kaiwa_room_ack_latency_seconds histogram");
  for (const e of entries) out.push(...histogramLines("kaiwa_room_ack_latency_seconds", { room: e.room }, e.ackLatency));
  out.push("# HELP kaiwa_ack_latency_seconds Time from accepting a command to its durable ack. All rooms.", "# TYPE kaiwa_ack_latency_seconds histogram");
  out.push(...histogramLines("kaiwa_ack_latency_seconds", {}, sumHistograms(entries.map((e) => e.ackLatency))));
  return out.join("\n") + "\n";
}

function histogramLines(name: string, labels: Record<string, string>, h: HistogramSnapshot): string[] {
  const lines: string[] = [];
  let cumulative = 0;
  h.bucketsMs.forEach((bound, i) => {
    cumulative += h.counts[i] ?? 0;
    lines.push(`${name}_bucket${labelText({ ...labels, le: num(bound / 1000) })} ${cumulative}`);
  });
  lines.push(`${name}_bucket${labelText({ ...labels, le: "+Inf" })} ${h.count}`);
  lines.push(`${name}_sum${labelText(labels)} ${num(h.sumMs / 1000)}`, `${name}_count${labelText(labels)} ${h.count}`);
  return lines;
}

/** Sums histograms with the same buckets (every room uses ACK_LATENCY_BUCKETS_MS); others are skipped. */
function sumHistograms(all: HistogramSnapshot[]): HistogramSnapshot {
  const first = all[0];
  if (!first) return { bucketsMs: [], counts: [0], sumMs: 0, count: 0 };
  const same = all.filter((h) => h.bucketsMs.length === first.bucketsMs.length && h.bucketsMs.every((b, i) => b === first.bucketsMs[i]));
  return {
    bucketsMs: first.bucketsMs,
    counts: first.counts.map((_, i) => same.reduce((sum, h) => sum + (h.counts[i] ?? 0), 0)),
    sumMs: same.reduce((sum, h) => sum + h.sumMs, 0),
    count: same.reduce((sum, h) => sum + h.count, 0),
  };
}

function labelText(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

function num(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(Math.round(value * 1e6) / 1e6);
}
