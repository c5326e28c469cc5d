/**
 * Scenario 6, one-to-one: P pairs, each user with two devices. Device 1 of user a sends at 2 msgs/s; the
 * message must reach both of b's devices and a's other device. p50/p99 send→deliver.
 * The route is a DmPath (targets/dm-path.ts): kaiwa through the inbox, the baselines through a DM room.
 */
import { runLoad, type LoadResult } from "../lib/load.ts";
import { dmPathFor } from "../targets/dm-path.ts";
import { checkOf, type Ctx, type ScenarioResult } from "./types.ts";

const RATE = 2;
const GOAL_P99_MS = 500;

export async function oneToOne(ctx: Ctx): Promise<ScenarioResult> {
  const pairs = ctx.config.pairs;
  const result: ScenarioResult = { name: "one-to-one", title: `6. One-to-one (${pairs} pairs, 2 devices each)`, rows: [], charts: [], runs: [], checks: [], notes: [] };
  const runs: Record<string, LoadResult> = {};
  for (const target of ctx.targets) {
    const path = dmPathFor(target);
    const tag = Date.now().toString(36);
    const members = new Map<string, [string, string]>();
    for (let i = 0; i < pairs; i++) {
      const a = `da${tag}x${i}`;
      const b = `db${tag}x${i}`;
      members.set(path.conversation(a, b), [a, b]);
    }
    // Receivers: b's two devices and a's second device; the sender is a's first device.
    const who: Array<[0 | 1, string]> = [[1, "d1"], [1, "d2"], [0, "d2"]];
    const run = await runLoad(target, {
      label: `${pairs} pairs via ${path.name}`,
      rooms: [...members.keys()],
      sendersPerRoom: 1,
      receiversPerRoom: who.length,
      mode: { kind: "rate", perSenderPerSec: RATE },
      seconds: ctx.config.seconds,
      connect: (room, role, index, handlers) => {
        const pair = members.get(room)!;
        const [side, device] = role === "sender" ? ([0, "d1"] as const) : who[index]!;
        return path.connectDevice(pair[side], pair[1 - side]!, device, handlers);
      },
    });
    runs[target.name] = run;
    ctx.log(`  ${target.name}: ${run.label}: deliver p50 ${run.deliver.p50} p99 ${run.deliver.p99} ms (${run.delivered} deliveries)`);
    result.runs.push(run);
    result.checks.push(checkOf(result.name, run));
  }
  const pick = (f: (r: LoadResult) => number) => Object.fromEntries(Object.entries(runs).map(([k, r]) => [k, f(r)]));
  result.rows.push(
    { metric: "DM send→deliver p50 (recipient's devices + sender's other device)", unit: "ms", better: "lower", values: pick((r) => r.deliver.p50) },
    { metric: "DM send→deliver p99", unit: "ms", better: "lower", values: pick((r) => r.deliver.p99), goal: { text: "p99 well under 500 ms", pass: (runs.kaiwa?.deliver.p99 ?? Infinity) < GOAL_P99_MS / 5 } },
    { metric: "DM send→ack p99", unit: "ms", better: "lower", values: pick((r) => r.ack.p99) },
  );
  result.notes.push("kaiwa DMs take the inbox route (client → inbox → DM room, stored → inbox → devices); the baselines relay through one room per pair and store nothing.");
  return result;
}
