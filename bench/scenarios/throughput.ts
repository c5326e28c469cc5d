/**
 * Scenario 1, throughput vs latency. (a) The most one room accepts: 20 senders with up to 256 commands in
 * flight each (kaiwa's: the 128 its rooms grant in the welcome, PROTOCOL R84, as its client keeps to), plus one
 * observing socket that checks every delivery. (b) Rising numbers of concurrent users in
 * rooms of 10, each sending 10 msgs/s open loop: p50/p95/p99 of send→ack and send→deliver per step.
 */
import { runLoad, type LoadResult } from "../lib/load.ts";
import { TARGET_COLORS } from "../lib/svg-chart.ts";
import { checkOf, uniqueRoom, type Ctx, type ScenarioResult } from "./types.ts";

export async function throughput(ctx: Ctx): Promise<ScenarioResult & { maxRate: Record<string, number> }> {
  const { config } = ctx;
  const result: ScenarioResult & { maxRate: Record<string, number> } = { name: "throughput", title: "1. Throughput vs latency", rows: [], charts: [], runs: [], checks: [], notes: [], maxRate: {} };
  const max: Record<string, LoadResult> = {};
  for (const target of ctx.targets) {
    const run = await runLoad(target, { label: "one room, max", rooms: [uniqueRoom("tp")], sendersPerRoom: 20, receiversPerRoom: 1, mode: { kind: "window", inFlight: 256 }, seconds: config.seconds, warmupSeconds: 1 });
    ctx.log(`  ${target.name}: one room ${run.ackedPerSec.toFixed(0)} msgs/s, ack p99 ${run.ack.p99} ms (generator CPU ${run.generatorCpuPct.toFixed(0)}%, server CPU ${run.serverCpuPct.toFixed(0)}%)`);
    max[target.name] = run;
    result.maxRate[target.name] = run.ackedPerSec;
    result.runs.push(run);
    result.checks.push(checkOf(result.name, run));
  }
  result.notes.push("One room, max: each sender keeps 256 commands in flight, or the smaller window the server grants in its welcome, as kaiwa's client does (kaiwa: 128, PROTOCOL R84; the baselines grant none).");
  result.notes.push("kaiwa's senders and the bare ws ones put the commands made in one tick into one `batch` frame, as kaiwa's client library does (PROTOCOL R17); Socket.IO's emit one message per packet, as its clients do.");
  const pick = (f: (r: LoadResult) => number) => Object.fromEntries(Object.entries(max).map(([k, r]) => [k, f(r)]));
  const kaiwaMax = max.kaiwa?.ackedPerSec ?? 0;
  result.rows.push(
    { metric: "one room: msgs/s accepted (20 senders + 1 observer, after 1 s warm-up)", unit: "msg/s", better: "higher", values: pick((r) => r.ackedPerSec), goal: { text: "≥ 30,000 msgs/s durably", pass: kaiwaMax >= 30_000 } },
    { metric: "one room: send→ack p50", unit: "ms", better: "lower", values: pick((r) => r.ack.p50) },
    { metric: "one room: send→ack p99", unit: "ms", better: "lower", values: pick((r) => r.ack.p99) },
    { metric: "one room: per-sender acked min/max (fairness)", unit: "ratio", better: "higher", values: pick((r) => r.perSenderAcked.min / Math.max(1, r.perSenderAcked.max)) },
    { metric: "one room: generator CPU (of one core)", unit: "%", better: "lower", values: pick((r) => r.generatorCpuPct) },
    { metric: "one room: server CPU (of one core)", unit: "%", better: "lower", values: pick((r) => r.serverCpuPct) },
  );

  const steps: Record<string, LoadResult[]> = {};
  for (const target of ctx.targets) {
    steps[target.name] = [];
    for (const users of config.latencyUsers) {
      const rooms = Array.from({ length: Math.max(1, Math.round(users / 10)) }, () => uniqueRoom("lat"));
      const run = await runLoad(target, { label: `${users} users`, rooms, sendersPerRoom: 10, receiversPerRoom: 1, mode: { kind: "rate", perSenderPerSec: config.perUserRate }, seconds: config.seconds });
      ctx.log(`  ${target.name}: ${users} users x ${config.perUserRate}/s: ${run.ackedPerSec.toFixed(0)} msgs/s, deliver p50 ${run.deliver.p50} p99 ${run.deliver.p99} ms`);
      steps[target.name]!.push(run);
      result.runs.push(run);
      result.checks.push(checkOf(result.name, run));
    }
  }
  config.latencyUsers.forEach((users, i) => {
    const at = (f: (r: LoadResult) => number) => Object.fromEntries(Object.entries(steps).map(([k, rs]) => [k, f(rs[i]!)]));
    result.rows.push(
      { metric: `${users} users x ${config.perUserRate}/s: msgs/s accepted`, unit: "msg/s", better: "higher", values: at((r) => r.ackedPerSec) },
      { metric: `${users} users: send→ack p99`, unit: "ms", better: "lower", values: at((r) => r.ack.p99) },
      { metric: `${users} users: send→deliver p95`, unit: "ms", better: "lower", values: at((r) => r.deliver.p95) },
      { metric: `${users} users: send→deliver p99`, unit: "ms", better: "lower", values: at((r) => r.deliver.p99) },
    );
  });
  const x = (r: LoadResult) => r.sockets;
  result.charts.push({
    file: "latency-vs-load.svg",
    chart: {
      title: "send→deliver latency vs concurrent users (rooms of 10)",
      xLabel: "sockets (users + 1 observer per room)",
      yLabel: "ms",
      logY: true,
      series: Object.entries(steps).flatMap(([name, runs]) => [
        { name: `${name} p50`, color: TARGET_COLORS[name]!, points: runs.map((r) => [x(r), r.deliver.p50] as [number, number]) },
        { name: `${name} p99`, color: TARGET_COLORS[name]!, dashed: true, points: runs.map((r) => [x(r), r.deliver.p99] as [number, number]) },
      ]),
    },
  });
  result.charts.push({
    file: "throughput-one-room.svg",
    chart: {
      title: "one room, 20 senders (256 in flight, kaiwa 128): acked per second",
      xLabel: "seconds",
      yLabel: "msgs/s acked",
      series: Object.entries(max).map(([name, run]) => ({ name, color: TARGET_COLORS[name]!, points: perSecond(run) })),
    },
  });
  return result;
}

/** Acked-per-second curve from cumulative samples. */
export function perSecond(run: LoadResult): Array<[number, number]> {
  const points: Array<[number, number]> = [];
  for (let i = 1; i < run.timeline.length; i++) {
    const a = run.timeline[i - 1]!;
    const b = run.timeline[i]!;
    if (b.t > run.seconds + 0.01) break;
    points.push([b.t, (b.acked - a.acked) / (b.t - a.t)]);
  }
  return points;
}
