/** A two-second run with 2 senders and 3 receivers in one room: the load tool's own end-to-end check. */
import { runLoad } from "../lib/load.ts";
import { checkOf, uniqueRoom, type Ctx, type ScenarioResult } from "./types.ts";

export async function smoke(ctx: Ctx): Promise<ScenarioResult> {
  const result: ScenarioResult = { name: "smoke", title: "Smoke (load tool self-check)", rows: [], charts: [], runs: [], checks: [], notes: [] };
  for (const target of ctx.targets) {
    const run = await runLoad(target, { label: "2 senders, 3 receivers", rooms: [uniqueRoom("smoke")], sendersPerRoom: 2, receiversPerRoom: 3, mode: { kind: "rate", perSenderPerSec: 20 }, seconds: 1, drainMs: 3000 });
    result.runs.push(run);
    result.checks.push(checkOf(result.name, run));
  }
  result.rows.push({ metric: "messages acked", unit: "msgs", better: "higher", values: Object.fromEntries(result.checks.map((c) => [c.target, c.check.acked])) });
  return result;
}
