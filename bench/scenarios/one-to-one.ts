/**
 * Scenario 6, one-to-one: P pairs, each user with two devices. Device 1 of user a sends at each rate in
 * turn (the same pairs, their conversations continuing); the message must reach both of b's devices and
 * a's other device. p50/p99 send→deliver.
 * The route is a DmPath (targets/dm-path.ts): kaiwa through the inbox, the baselines through a DM room.
 */
import { runLoad, type LoadResult } from "../lib/load.ts";
import { dmPathFor } from "../targets/dm-path.ts";
import { checkOf, type Ctx, type ScenarioResult } from "./types.ts";

const GOAL_P99_MS = 500;

export async function oneToOne(ctx: Ctx): Promise<ScenarioResult> {
  const { pairs, dmRates } = ctx.config;
  const result: ScenarioResult = { name: "one-to-one", title: `6. One-to-one (${pairs} pairs, 2 devices each)`, rows: [], charts: [], runs: [], checks: [], notes: [] };
  const byRate: Array<Record<string, LoadResult>> = dmRates.map(() => ({}));
  for (const target of ctx.targets) {
    const path = dmPathFor(target);
    // The same pairs write at each rate, in the conversations they already have: new users per rate
    // doubled the actors alive in the one workerd process, and at 1,000 pairs (6,000 inboxes and rooms)
    // `partykit dev` began refusing new ones (SQLITE_NOMEM opening their storage; measured).
    const tag = Date.now().toString(36);
    const members = new Map<string, [string, string]>();
    for (let i = 0; i < pairs; i++) {
      const a = `da${tag}x${i}`;
      const b = `db${tag}x${i}`;
      members.set(path.conversation(a, b), [a, b]);
    }
    for (const [r, rate] of dmRates.entries()) {
      // Receivers: b's two devices and a's second device; the sender is a's first device.
      const who: Array<[0 | 1, string]> = [[1, "d1"], [1, "d2"], [0, "d2"]];
      const run = await runLoad(target, {
        label: `${pairs} pairs x ${rate}/s via ${path.name}`,
        rooms: [...members.keys()],
        sendersPerRoom: 1,
        receiversPerRoom: who.length,
        mode: { kind: "rate", perSenderPerSec: rate },
        seconds: Math.max(ctx.config.seconds, 2 / rate), // at least two DMs per pair
        connect: (room, role, index, handlers) => {
          const pair = members.get(room)!;
          const [side, device] = role === "sender" ? ([0, "d1"] as const) : who[index]!;
          // A new device session per rate: each run numbers its commands from 1 (PROTOCOL R5).
          return path.connectDevice(pair[side], pair[1 - side]!, `${device}r${r}`, handlers);
        },
      });
      byRate[r]![target.name] = run;
      ctx.log(`  ${target.name}: ${run.label}: deliver p50 ${run.deliver.p50} p99 ${run.deliver.p99} ms (${run.delivered} deliveries)`);
      result.runs.push(run);
      result.checks.push(checkOf(result.name, run));
    }
  }
  for (const [r, rate] of dmRates.entries()) {
    const runs = byRate[r]!;
    const pick = (f: (x: LoadResult) => number) => Object.fromEntries(Object.entries(runs).map(([k, x]) => [k, f(x)]));
    const load = `${pairs} pairs x ${rate}/s (${(pairs * rate).toFixed(0)} DMs/s)`;
    result.rows.push(
      { metric: `${load}: send→deliver p50`, unit: "ms", better: "lower", values: pick((x) => x.deliver.p50) },
      {
        metric: `${load}: send→deliver p99`,
        unit: "ms",
        better: "lower",
        values: pick((x) => x.deliver.p99),
        goal: { text: `p99 well under ${GOAL_P99_MS} ms (< ${GOAL_P99_MS / 5})`, pass: (runs.kaiwa?.deliver.p99 ?? Infinity) < GOAL_P99_MS / 5 },
      },
      { metric: `${load}: send→ack p99`, unit: "ms", better: "lower", values: pick((x) => x.ack.p99) },
    );
  }
  result.notes.push("kaiwa DMs take the inbox route (client → inbox → DM room, stored → inbox → devices); the baselines relay through one room per pair and store nothing.");
  result.notes.push(`Recipients: the peer's two devices and the sender's other device. Senders are spread evenly over each period, as independent people are. The goal is judged at both rates: ${dmRates[0]} DMs/s per pair is already far above how fast two people write to each other; the higher rate shows where this box saturates (each kaiwa DM is four durable writes in partykit dev: the sender's inbox, the room, and both inboxes).`);
  return result;
}
