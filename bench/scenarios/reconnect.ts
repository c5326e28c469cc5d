/**
 * Scenario 5, reconnect storm: the network drops N clients of one room at once (their TCP connections
 * are cut, no close frame) while a sender keeps posting, and all come back. kaiwa's clients are the real
 * client (client/ KaiwaRoom): each resumes from its (epoch, lastSeq) and must get every missed message
 * exactly once, in order (checked by the ledger).
 * "Resumed" = open again, welcomed with recovered: true, and holding every message acked before the drop.
 * The baselines keep no log, so for them the figure is only the time until every socket is welcomed
 * again (no traffic runs across their drop: whatever was sent meanwhile would simply be lost).
 */
import WebSocket from "ws";
import { KaiwaRoom } from "../../client/index.ts";
import { BACKOFF_DEFAULTS } from "../../client/backoff.ts";
import { Ledger } from "../lib/ledger.ts";
import { inBatches, sleep } from "../lib/load.ts";
import { selfCpuMs } from "../lib/proc.ts";
import { KaiwaTarget } from "../targets/kaiwa.ts";
import type { Conn, Target } from "../targets/types.ts";
import { uniqueRoom, type Ctx, type ScenarioResult } from "./types.ts";

const SENDER_RATE = 20;
const GOAL_MS = 2000;

export async function reconnectStorm(ctx: Ctx): Promise<ScenarioResult> {
  const n = ctx.config.storm;
  const result: ScenarioResult = { name: "reconnect", title: `5. Reconnect storm (${n} clients drop at once)`, rows: [], charts: [], runs: [], checks: [], notes: [] };
  const times: Record<string, number> = {};
  const cpu: Record<string, [number, number]> = {};
  for (const target of ctx.targets) {
    const run = target instanceof KaiwaTarget ? await kaiwaStorm(target, n, ctx) : await baselineStorm(target, n);
    times[target.name] = run.allResumedMs;
    const k = run.kaiwa;
    ctx.log(`  ${target.name}: ${n} clients back in ${run.allResumedMs.toFixed(0)} ms${k ? ` (gapless: ${k.check.lost === 0 && k.check.duplicates === 0}, resets ${k.resets})` : " (reconnect only)"}, generator CPU ${run.generatorCpuPct.toFixed(0)}%, server CPU ${run.serverCpuPct.toFixed(0)}%`);
    result.runs.push({ target: target.name, allResumedMs: run.allResumedMs, generatorCpuPct: run.generatorCpuPct, serverCpuPct: run.serverCpuPct, ...k });
    cpu[target.name] = [run.generatorCpuPct, run.serverCpuPct];
    if (k) result.checks.push({ scenario: result.name, target: target.name, label: `${n} clients storm`, check: k.check, problems: k.problems, serverErrors: k.serverErrors });
  }
  result.rows.push({ metric: `time until all ${n} resumed (kaiwa: gapless replay; others: reconnect only)`, unit: "ms", better: "lower", values: times, goal: { text: "≤ 2,000 ms, no gap", pass: (times.kaiwa ?? Infinity) <= GOAL_MS } });
  result.rows.push(
    { metric: "storm: generator CPU (of one core)", unit: "%", better: "lower", values: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, v[0]])) },
    { metric: "storm: server CPU (of one core)", unit: "%", better: "lower", values: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, v[1]])) },
  );
  result.notes.push("The drop cuts every client's TCP connection at the same instant (no close frame). kaiwa's clients notice and come back by their own policy (full-jitter backoff, 0-250 ms for the first attempt); the baselines' sockets reconnect after the same random 0-250 ms.");
  return result;
}

type StormRun = {
  allResumedMs: number;
  generatorCpuPct: number;
  serverCpuPct: number;
  kaiwa?: { dropSeq: number; lastWelcomeMs: number; resets: number; check: Ledger["counts"]; problems: Ledger["problems"]; serverErrors: string[] };
};

async function kaiwaStorm(target: KaiwaTarget, n: number, ctx: Ctx): Promise<StormRun> {
  const room = uniqueRoom("storm");
  const errorsBefore = target.errors.length;
  const ledger = new Ledger();
  const errors: string[] = [];
  let resets = 0;
  const clients: Array<{ room: KaiwaRoom; receiver: ReturnType<Ledger["receiver"]>; welcomedAt: number; recovered: boolean }> = [];
  const host = target.server.host;
  await inBatches(
    Array.from({ length: n }, (_, i) => async () => {
      const token = await target.token(`m${i}`);
      const client = new KaiwaRoom({ host, room, token, WebSocket: DroppableWebSocket, pingIntervalMs: 60_000 });
      const entry = { room: client, receiver: ledger.receiver(`m${i}`, room, 0), welcomedAt: 0, recovered: false };
      client.on("welcome", (welcome) => {
        entry.welcomedAt = performance.now();
        entry.recovered = welcome.resume?.recovered === true;
        // First join: the ledger starts this client's log at the room's position.
        if (welcome.resume === null) entry.receiver.last = welcome.lastSeq;
      });
      client.on("event", (event) => ledger.delivered(entry.receiver, event.seq, event.clientId));
      client.on("reset", () => resets++);
      client.on("error", (error) => errors.push(error.message));
      clients.push(entry);
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`client m${i} not open after 30 s`)), 30_000);
        const off = client.on("status", ({ current }) => current === "open" && (off(), clearTimeout(timer), resolve()));
      });
    }),
    100,
    errors,
  );
  // One raw sender keeps posting through the storm, so there is something to resume.
  let running = true;
  let n2 = 0;
  const sender: Conn = await target.connect({ room, user: "stormsender", session: "s", handlers: { onAck: (clientId, seq) => ledger.acked(room, clientId, seq) } });
  const ticker = setInterval(() => {
    if (!running) return;
    const clientId = `storm-${++n2}`;
    ledger.sent(room, clientId);
    sender.send(clientId, n2, String(performance.now()));
  }, 1000 / SENDER_RATE);
  await sleep(1000);
  const dropSeq = ledger.maxAckedOf(room);
  const t0 = performance.now();
  const cpu0 = selfCpuMs();
  const server0 = target.usage().cpuMs;
  // The network drops: every transport is cut without a close frame, as a lost Wi-Fi or a restarted load
  // balancer would. Each client notices (1006) and comes back by its own policy: jittered backoff, then
  // resume from its (epoch, lastSeq). The baselines' sockets are cut the same way.
  for (const socket of DroppableWebSocket.live) socket.terminate();
  let allResumedMs = NaN;
  const deadline = t0 + 30_000;
  while (performance.now() < deadline) {
    const back = clients.every((c) => c.welcomedAt > t0 && c.room.status === "open" && c.receiver.last >= dropSeq);
    if (back) {
      allResumedMs = performance.now() - t0;
      break;
    }
    await sleep(5);
  }
  const wall = performance.now() - t0;
  const lastWelcomeMs = Math.max(...clients.map((c) => c.welcomedAt)) - t0;
  const generatorCpuPct = ((selfCpuMs() - cpu0) / wall) * 100;
  const serverCpuPct = ((target.usage().cpuMs - server0) / wall) * 100;
  const notRecovered = clients.filter((c) => c.welcomedAt > t0 && !c.recovered).length;
  await sleep(1000);
  running = false;
  clearInterval(ticker);
  const drainUntil = Date.now() + 15_000;
  while (!ledger.settled() && Date.now() < drainUntil) await sleep(50);
  ledger.finish();
  for (const client of clients) client.room.close();
  sender.close();
  if (notRecovered) errors.push(`${notRecovered} clients were welcomed without recovered: true`);
  if (resets) errors.push(`${resets} clients got a reset instead of a gapless resume`);
  if (!Number.isFinite(allResumedMs)) errors.push(`not every client resumed within 30 s`);
  ctx.log(`    (storm: drop at seq ${dropSeq}, last welcome after ${lastWelcomeMs.toFixed(0)} ms, ${ledger.counts.delivered} deliveries checked)`);
  return {
    allResumedMs: Number.isFinite(allResumedMs) ? allResumedMs : Infinity,
    generatorCpuPct,
    serverCpuPct,
    kaiwa: { dropSeq, lastWelcomeMs, resets, check: { ...ledger.counts }, problems: ledger.problems, serverErrors: [...errors, ...target.errors.slice(errorsBefore)] },
  };
}

/** The `ws` class, remembering its open sockets so the storm can cut them all at once. */
class DroppableWebSocket extends WebSocket {
  static readonly live = new Set<DroppableWebSocket>();
  constructor(...args: ConstructorParameters<typeof WebSocket>) {
    super(...args);
    this.once("open", () => DroppableWebSocket.live.add(this));
    this.once("close", () => DroppableWebSocket.live.delete(this));
  }
}

async function baselineStorm(target: Target, n: number): Promise<StormRun> {
  const room = uniqueRoom("storm");
  const open = (i: number) => target.connect({ room, user: `m${i}`, session: `m${i}`, handlers: {} });
  const conns: Conn[] = [];
  const failures: string[] = [];
  await inBatches(Array.from({ length: n }, (_, i) => async () => void conns.push(await open(i))), 100, failures);
  const t0 = performance.now();
  const cpu0 = selfCpuMs();
  const server0 = target.usage().cpuMs;
  for (const conn of conns) conn.terminate();
  const again: Conn[] = [];
  // The same first-attempt policy as kaiwa's client (full jitter up to 250 ms), so the times compare.
  const reopen = async (i: number) => {
    await sleep(Math.random() * BACKOFF_DEFAULTS.baseMs);
    again.push(await open(i));
  };
  await inBatches(Array.from({ length: n }, (_, i) => () => reopen(i)), n, failures);
  const allResumedMs = failures.length ? Infinity : performance.now() - t0;
  const generatorCpuPct = ((selfCpuMs() - cpu0) / allResumedMs) * 100;
  const serverCpuPct = ((target.usage().cpuMs - server0) / allResumedMs) * 100;
  for (const conn of again) conn.close();
  return { allResumedMs, generatorCpuPct, serverCpuPct };
}
