/**
 * Scenario 2, burst: send open loop at the maximum sustained rate that target reached in scenario 1, into
 * one room and then spread across 20 rooms, and record the backlog (sent − acked) over time. A backlog that
 * stays flat means the rate is sustainable; one that climbs means the server falls behind.
 */
import { runLoad, type LoadResult } from "../lib/load.ts";
import { TARGET_COLORS } from "../lib/svg-chart.ts";
import { checkOf, uniqueRoom, type Ctx, type ScenarioResult } from "./types.ts";

const SPREAD_ROOMS = 20;

export async function burst(ctx: Ctx, maxRate: Record<string, number>): Promise<ScenarioResult> {
  const result: ScenarioResult = { name: "burst", title: "2. Burst at the maximum sustained rate", rows: [], charts: [], runs: [], checks: [], notes: [] };
  const one: Record<string, LoadResult> = {};
  const many: Record<string, LoadResult> = {};
  for (const target of ctx.targets) {
    const rate = Math.max(100, maxRate[target.name] ?? 1000);
    one[target.name] = await runLoad(target, { label: `one room at ${rate.toFixed(0)}/s`, rooms: [uniqueRoom("burst")], sendersPerRoom: 20, receiversPerRoom: 1, mode: { kind: "rate", perSenderPerSec: rate / 20 }, seconds: ctx.config.burstSeconds, sampleMs: 200, drainMs: 30_000 });
    const rooms = Array.from({ length: SPREAD_ROOMS }, () => uniqueRoom("burstm"));
    many[target.name] = await runLoad(target, { label: `${SPREAD_ROOMS} rooms at ${rate.toFixed(0)}/s`, rooms, sendersPerRoom: 5, receiversPerRoom: 1, mode: { kind: "rate", perSenderPerSec: rate / (5 * SPREAD_ROOMS) }, seconds: ctx.config.burstSeconds, sampleMs: 200, drainMs: 30_000 });
    for (const run of [one[target.name]!, many[target.name]!]) {
      ctx.log(`  ${target.name}: ${run.label}: acked ${run.ackedPerSec.toFixed(0)}/s, max backlog ${run.maxBacklog}, ack p99 ${run.ack.p99} ms`);
      result.runs.push(run);
      result.checks.push(checkOf(result.name, run));
    }
  }
  const pick = (runs: Record<string, LoadResult>, f: (r: LoadResult) => number) => Object.fromEntries(Object.entries(runs).map(([k, r]) => [k, f(r)]));
  result.rows.push(
    { metric: "one room: offered rate (each target's own max)", unit: "msg/s", better: "higher", values: pick(one, (r) => r.sent / r.seconds) },
    { metric: "one room: acked during burst", unit: "msg/s", better: "higher", values: pick(one, (r) => r.ackedPerSec) },
    { metric: "one room: max backlog (sent − acked)", unit: "msgs", better: "lower", values: pick(one, (r) => r.maxBacklog) },
    { metric: "one room: send→ack p99", unit: "ms", better: "lower", values: pick(one, (r) => r.ack.p99) },
    { metric: `${SPREAD_ROOMS} rooms: acked during burst`, unit: "msg/s", better: "higher", values: pick(many, (r) => r.ackedPerSec) },
    { metric: `${SPREAD_ROOMS} rooms: max backlog`, unit: "msgs", better: "lower", values: pick(many, (r) => r.maxBacklog) },
    { metric: `${SPREAD_ROOMS} rooms: send→ack p99`, unit: "ms", better: "lower", values: pick(many, (r) => r.ack.p99) },
  );
  const backlog = (runs: Record<string, LoadResult>, title: string, file: string) =>
    result.charts.push({
      file,
      chart: {
        title,
        xLabel: "seconds",
        yLabel: "backlog (sent − acked)",
        series: Object.entries(runs).map(([name, run]) => ({ name, color: TARGET_COLORS[name]!, points: run.timeline.map((s) => [s.t, s.backlog] as [number, number]) })),
      },
    });
  backlog(one, "burst into one room: backlog over time (each at its own max rate)", "burst-one-room.svg");
  backlog(many, `burst across ${SPREAD_ROOMS} rooms: backlog over time`, "burst-many-rooms.svg");
  result.notes.push("Each target is offered the rate it reached in scenario 1, so the burst rates differ between targets.");
  return result;
}
