/**
 * Scenario 7, flood: what one socket sending as fast as it can costs everyone else (PROTOCOL R18).
 * Room A: 10 users posting 5 msgs/s each and an observer; room B: 5 users at 5 msgs/s and an observer.
 * Each run measures a window of two halves on the same sockets: the first without a flood (the
 * reference), the second with one extra raw socket in room A (lib/flood-child.ts, its own process)
 * writing as fast as the server reads, never waiting for an ack, until the server closes it or the
 * window ends (the bound that ends the baselines' runs). One run per flood:
 *  - 1 command per frame: valid `send`s, each a new message;
 *  - 128-command batches: valid `send`s in `batch` frames (PROTOCOL R17; not Socket.IO, which has none);
 *  - invalid frames: JSON that is no command.
 * Reported per flood: room A's and room B's p99 under the flood (the worse of send→ack and send→deliver)
 * over the same room's p99 in the half before it (goal ≤ 2×); the flooder's commands the room accepted
 * (kaiwa: stored) and broadcast, counted by room A's observer; how long until the server cut the flooder
 * off (close 4029; ∞: never), on the flooder's clock from its first frame to the server's close frame.
 * The load tool checks every delivery in both rooms by (room, seq, clientId), the flooder's events
 * included: nothing may be lost or duplicated, and no socket but the flooder's may be closed.
 *
 * kaiwa runs as the bench starts it (the per-user message limit lifted, KAIWA_MESSAGES_PER_SECOND=0), and
 * once more on a server with the deployment's default (10 msgs/s per user, burst 30): "kaiwa at 10/s".
 */
import { startFlooder, type FloodMode, type FloodReport } from "../lib/flooder.ts";
import { runLoad, type LoadResult } from "../lib/load.ts";
import type { Target } from "../targets/types.ts";
import { checkOf, uniqueRoom, type Ctx, type Row, type ScenarioResult } from "./types.ts";

const USERS_A = 10;
const USERS_B = 5;
const RATE = 5;
const GOAL_RATIO = 2;
const MODES: Array<{ mode: FloodMode; label: string }> = [
  { mode: "frames", label: "1 command per frame" },
  { mode: "batch", label: "128-command batches" },
  { mode: "invalid", label: "invalid frames" },
];
/** The message limit does not count invalid frames (PROTOCOL R18: only new messages), so that flood is the same at 10/s. */
const PRODUCTION_MODES: FloodMode[] = ["frames", "batch"];
const PRODUCTION_VARS = { KAIWA_MESSAGES_PER_SECOND: "10" };

/** p99 of one room's senders (send→ack) and observer (send→deliver), ms. */
type Pair = { ack: number; deliver: number };
type FloodRun = { run: LoadResult; report: FloodReport; before: { a: Pair; b: Pair }; under: { a: Pair; b: Pair } };
type TargetRuns = Partial<Record<FloodMode, FloodRun>>;

export async function flood(ctx: Ctx): Promise<ScenarioResult> {
  const seconds = ctx.config.floodSeconds;
  const result: ScenarioResult = { name: "flood", title: "7. Flood (one socket as fast as it can)", rows: [], charts: [], runs: [], checks: [], notes: [] };
  const byTarget: Record<string, TargetRuns> = {};
  let production: TargetRuns | undefined;
  for (const target of ctx.targets) {
    byTarget[target.name] = await floodRuns(ctx, result, target, MODES.map((m) => m.mode), "");
    if (target.name === "kaiwa" && ctx.kaiwaWith) {
      const kaiwa10 = ctx.kaiwaWith(PRODUCTION_VARS);
      await kaiwa10.start();
      try {
        production = await floodRuns(ctx, result, kaiwa10, PRODUCTION_MODES, " at 10/s");
      } finally {
        await kaiwa10.stop().catch(() => undefined);
      }
    }
  }

  for (const { mode, label } of MODES) {
    const values = (f: (run: FloodRun) => number) => {
      const out: Row["values"] = {};
      for (const [name, runs] of Object.entries(byTarget)) if (runs[mode]) out[name as keyof Row["values"]] = f(runs[mode]!);
      return out;
    };
    result.rows.push(...floodRows(`${label} in A`, values, byTarget.kaiwa?.[mode]));
  }
  if (production) {
    for (const mode of PRODUCTION_MODES) {
      const run = production[mode];
      if (run) result.rows.push(...floodRows(`kaiwa at 10/s, ${MODES.find((m) => m.mode === mode)!.label} in A`, (f) => ({ kaiwa: f(run) }), run));
    }
  }

  const describe = (name: string, runs: TargetRuns) =>
    `${name}: ${Object.entries(runs)
      .map(([mode, f]) => `${mode} A ${pair(f!.before.a)} → ${pair(f!.under.a)}, B ${pair(f!.before.b)} → ${pair(f!.under.b)}`)
      .join("; ")}`;
  result.notes.push(
    `Every run: room A with ${USERS_A} users and room B with ${USERS_B}, each posting ${RATE} msgs/s (spread over the period), plus one observer per room; 1 s warm-up, then ${seconds} s without a flood and ${seconds} s with it, on the same sockets. The flooder joins room A before the run and writes from the second half on, as fast as the server reads (its own process, lib/flood-child.ts), until the server closes its socket or the window ends. A ratio is the worse of send→ack and send→deliver p99 in the flood half over the same figure in the half before it; a latency counts in the half its ack or delivery arrived in. Each half's p99 rests on ~${USERS_A * RATE * seconds} (A) and ~${USERS_B * RATE * seconds} (B) messages.`,
    `p99 send→ack/send→deliver in ms, before → under the flood: ${[...Object.entries(byTarget).map(([n, t]) => describe(n, t)), ...(production ? [describe("kaiwa at 10/s", production)] : [])].join(" | ")}.`,
    "kaiwa's bench server lifts the per-user message limit (KAIWA_MESSAGES_PER_SECOND=0, as for its capacity runs), so there only the frame budget (500 frames, then 100/s, whatever a frame holds) and the pending bound (1,024 commands per socket) act; a deployment runs the default, 10 msgs/s (burst 30): the \"kaiwa at 10/s\" rows, on a second `partykit dev`. That limit does not count invalid frames, so their flood is not run again there. The baselines have no flow control: their flooder runs to the end of the window; Socket.IO has no batch frame.",
    "On `partykit dev` every room runs on workerd's one thread (on Cloudflare each room is its own actor), so room B waits while that thread works through room A's flood; the flooder, the load generator and the servers share the machine's 2 cores.",
  );
  return result;
}

function floodRows(prefix: string, values: (f: (run: FloodRun) => number) => Row["values"], kaiwa: FloodRun | undefined): Row[] {
  const ratio = (room: "a" | "b") => (f: FloodRun) => worse(f.under[room]) / worse(f.before[room]);
  const kaiwaRatio = (room: "a" | "b") => (kaiwa ? ratio(room)(kaiwa) : Infinity);
  return [
    { metric: `${prefix}: room A p99 under flood ÷ before`, unit: "x", better: "lower", values: values(ratio("a")), goal: { text: `≤ ${GOAL_RATIO}× p99 under flood`, pass: kaiwaRatio("a") <= GOAL_RATIO } },
    { metric: `${prefix}: room B p99 under flood ÷ before`, unit: "x", better: "lower", values: values(ratio("b")), goal: { text: `≤ ${GOAL_RATIO}× p99 under flood`, pass: kaiwaRatio("b") <= GOAL_RATIO } },
    { metric: `${prefix}: flooder's commands accepted (seen by A's observer)`, unit: "msgs", better: "lower", values: values((f) => Object.values(f.run.foreign ?? {})[0] ?? 0) },
    {
      metric: `${prefix}: flooder cut off after (server's close; ∞ never)`,
      unit: "ms",
      better: "lower",
      values: values((f) => f.report.serverClosed?.atMs ?? Infinity),
      goal: { text: "cut off (4029)", pass: kaiwa?.report.serverClosed?.code === 4029 },
    },
  ];
}

async function floodRuns(ctx: Ctx, result: ScenarioResult, target: Target, modes: FloodMode[], suffix: string): Promise<TargetRuns> {
  const seconds = ctx.config.floodSeconds;
  const runs: TargetRuns = {};
  for (const mode of modes) {
    if (mode === "batch" && target.name === "socketio") continue;
    const roomA = uniqueRoom("floodA");
    const roomB = uniqueRoom("floodB");
    const prefix = `F${Date.now().toString(36)}x`;
    const flooder = await startFlooder({ url: await target.url({ room: roomA, user: `flooder${prefix}`, session: "f" }), protocol: target.name === "socketio" ? "socketio" : "kaiwa", mode, seconds, prefix });
    try {
      const run = await runLoad(target, {
        label: `${mode} flood${suffix}`,
        rooms: [roomA, roomB],
        sendersPerRoom: USERS_A,
        sendersIn: { [roomB]: USERS_B },
        receiversPerRoom: 1,
        mode: { kind: "rate", perSenderPerSec: RATE },
        seconds: 2 * seconds,
        warmupSeconds: 1,
        phases: [seconds],
        onPhase: (phase) => phase === 1 && flooder.go(),
        foreignPrefix: prefix,
      });
      const report = await flooder.done;
      result.runs.push({ ...run, flood: report });
      result.checks.push(checkOf(result.name, run));
      const at = (room: string, phase: number): Pair => ({ ack: run.perRoom![room]![phase]!.ack.p99, deliver: run.perRoom![room]![phase]!.deliver.p99 });
      const f: FloodRun = { run, report, before: { a: at(roomA, 0), b: at(roomB, 0) }, under: { a: at(roomA, 1), b: at(roomB, 1) } };
      runs[mode] = f;
      const closed = report.serverClosed;
      const cut = closed ? `closed by the server after ${ms(closed.atMs)} ms (${closed.code}${report.rateLimited ? `; rate_limited at ${ms(report.rateLimited.atMs)} ms, retryAfterMs ${report.rateLimited.retryAfterMs}` : ""})` : "never closed";
      ctx.log(
        `  ${target.name}${suffix}: ${run.label}: p99 ack/deliver before → under: A ${pair(f.before.a)} → ${pair(f.under.a)} ms, B ${pair(f.before.b)} → ${pair(f.under.b)} ms (B's worst under ${ms(run.perRoom![roomB]![1]!.ack.max)}); ` +
          `flooder: ${report.framesSent} frames (${report.commandsSent} commands, ${(report.bytesSent / 2 ** 20).toFixed(1)} MB) in ${ms(report.floodMs)} ms, ${run.foreign?.[roomA] ?? 0} accepted, ${report.acked} acked to it, ${cut} ` +
          `(generator late up to ${run.generatorLagMs.max.toFixed(0)} ms, server CPU ${run.serverCpuPct.toFixed(0)}%)`,
      );
    } catch (error) {
      flooder.kill();
      throw error;
    }
  }
  return runs;
}

const worse = (p: Pair) => Math.max(p.ack, p.deliver);
const pair = (p: Pair) => `${ms(p.ack)}/${ms(p.deliver)}`;

function ms(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}
