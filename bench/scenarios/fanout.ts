/**
 * Scenario 4, fan-out.
 * (a) A 500-member room at a steady 100 msgs/s (1 sender, 499 receivers that each check every delivery):
 *     p99 send→deliver. The target is the room's steady state, so the load runs 1 s before the timed
 *     window, as in scenario 1, for every target: the first messages otherwise go out while the server
 *     still works off the 500 joins just before them (a probe: the first 50 ms of sends took the run's
 *     worst deliveries, 80-130 ms, where later ones peaked near 70).
 * (b) A room with thousands of sockets driven as hard as it goes (4 senders, 4 in flight each):
 *     deliveries per second, compared with the bare ws server's ceiling.
 */
import { runLoad, type LoadResult } from "../lib/load.ts";
import { TARGET_COLORS } from "../lib/svg-chart.ts";
import { checkOf, uniqueRoom, type Ctx, type ScenarioResult } from "./types.ts";

/**
 * The steady step's p99 is judged against a goal, so it rests on at least 400 messages (the quick bench's
 * 2 s gave 200: its p99 was the second-worst message, and passed or missed by luck).
 */
const STEADY_MIN_SECONDS = 4;

export async function fanout(ctx: Ctx): Promise<ScenarioResult> {
  const { config } = ctx;
  const result: ScenarioResult = { name: "fanout", title: "4. Fan-out", rows: [], charts: [], runs: [], checks: [], notes: [] };
  const steady: Record<string, LoadResult> = {};
  const big: Record<string, LoadResult> = {};
  for (const target of ctx.targets) {
    const a = await runLoad(target, { label: `${config.fanoutMembers} members at ${config.fanoutRate}/s`, rooms: [uniqueRoom("fan")], sendersPerRoom: 1, receiversPerRoom: config.fanoutMembers - 1, mode: { kind: "rate", perSenderPerSec: config.fanoutRate }, seconds: Math.max(config.seconds, STEADY_MIN_SECONDS), warmupSeconds: 1, sampleMs: 200 });
    const b = await runLoad(target, { label: `${config.bigRoom} sockets, max`, rooms: [uniqueRoom("big")], sendersPerRoom: 4, receiversPerRoom: config.bigRoom - 4, mode: { kind: "window", inFlight: 4 }, seconds: config.seconds, sampleMs: 200, localAddresses: config.localAddresses, drainMs: 30_000 });
    steady[target.name] = a;
    big[target.name] = b;
    for (const run of [a, b]) {
      ctx.log(`  ${target.name}: ${run.label}: ${run.deliveriesPerSec.toFixed(0)} deliveries/s, deliver p50 ${run.deliver.p50} p99 ${run.deliver.p99} ms (generator CPU ${run.generatorCpuPct.toFixed(0)}%, its event loop late by up to ${run.generatorLagMs.max.toFixed(0)} ms, p99 ${run.generatorLagMs.p99.toFixed(0)}; server ${run.serverCpuPct.toFixed(0)}%)`);
      result.runs.push(run);
      result.checks.push(checkOf(result.name, run));
    }
  }
  const pick = (runs: Record<string, LoadResult>, f: (r: LoadResult) => number) => Object.fromEntries(Object.entries(runs).map(([k, r]) => [k, f(r)]));
  const kaiwaP99 = steady.kaiwa?.deliver.p99 ?? Infinity;
  const ratio = big.kaiwa && big.ws ? big.kaiwa.deliveriesPerSec / big.ws.deliveriesPerSec : NaN;
  result.rows.push(
    { metric: `${config.fanoutMembers}-member room at ${config.fanoutRate}/s: deliveries/s`, unit: "/s", better: "higher", values: pick(steady, (r) => r.deliveriesPerSec) },
    { metric: `${config.fanoutMembers}-member room: send→deliver p50`, unit: "ms", better: "lower", values: pick(steady, (r) => r.deliver.p50) },
    { metric: `${config.fanoutMembers}-member room: send→deliver p99 (after 1 s warm-up)`, unit: "ms", better: "lower", values: pick(steady, (r) => r.deliver.p99), goal: { text: "p99 ≤ 50 ms", pass: kaiwaP99 <= 50 } },
    { metric: `${config.bigRoom}-socket room: deliveries/s (max)`, unit: "/s", better: "higher", values: pick(big, (r) => r.deliveriesPerSec), goal: { text: "≥ 0.8× bare ws", pass: ratio >= 0.8 } },
    { metric: `${config.bigRoom}-socket room: msgs/s`, unit: "msg/s", better: "higher", values: pick(big, (r) => r.ackedPerSec) },
    { metric: `${config.bigRoom}-socket room: send→deliver p99`, unit: "ms", better: "lower", values: pick(big, (r) => r.deliver.p99) },
    { metric: `${config.bigRoom}-socket room: generator CPU`, unit: "%", better: "lower", values: pick(big, (r) => r.generatorCpuPct) },
    { metric: `${config.bigRoom}-socket room: server CPU`, unit: "%", better: "lower", values: pick(big, (r) => r.serverCpuPct) },
  );
  result.charts.push({
    file: "fanout-big-room.svg",
    chart: {
      title: `${config.bigRoom}-socket room: deliveries per second`,
      xLabel: "seconds",
      yLabel: "deliveries/s",
      series: Object.entries(big).map(([name, run]) => ({ name, color: TARGET_COLORS[name]!, points: deliveriesPerSecond(run) })),
    },
  });
  result.notes.push("kaiwa sends one events frame per committed batch (several messages per frame under load); bare ws one per inbound frame (a sender's batch frame becomes one events frame); Socket.IO one per message.");
  return result;
}

function deliveriesPerSecond(run: LoadResult): Array<[number, number]> {
  const points: Array<[number, number]> = [];
  for (let i = 1; i < run.timeline.length; i++) {
    const a = run.timeline[i - 1]!;
    const b = run.timeline[i]!;
    if (b.t > run.seconds + 0.01) break;
    points.push([b.t, (b.delivered - a.delivered) / (b.t - a.t)]);
  }
  return points;
}
