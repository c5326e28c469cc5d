/**
 * Scenario 3, connection scale: ramp to N concurrent sockets (rooms of 100), opened 200 at a time and spread
 * over several 127.0.0.x source addresses (one source address runs out of ephemeral ports near 28k).
 * Counts successes, time to connect (open → welcome), and the server's memory before and after.
 */
import { readFileSync } from "node:fs";
import { Histogram } from "../lib/histogram.ts";
import { sleep } from "../lib/load.ts";
import type { Conn } from "../targets/types.ts";
import { uniqueRoom, type Ctx, type ScenarioResult } from "./types.ts";

const PER_ROOM = 100;
const WIDTH = 200;

/** This process's open-file limit: each socket needs a descriptor here and one in the server. */
export function openFileLimit(): number {
  const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"));
  const soft = Number(line?.split(/\s{2,}/)[1]);
  return Number.isFinite(soft) ? soft : Infinity;
}

export async function connections(ctx: Ctx): Promise<ScenarioResult> {
  const limit = openFileLimit();
  const n = Math.min(ctx.config.connections, limit - 1500); // margin: workerd also keeps files open per room (storage)
  const result: ScenarioResult = { name: "connections", title: `3. Connection scale (${n} sockets)`, rows: [], charts: [], runs: [], checks: [], notes: [] };
  if (n < ctx.config.connections) {
    const why = `capped at ${n} sockets: the open-file limit here is ${limit} per process and cannot be raised (the server process needs one descriptor per socket too)`;
    ctx.log(`  ${why}`);
    result.notes.push(why);
  }
  const figures: Record<string, { ok: number; rampS: number; p50: number; p99: number; rssBefore: number; rssAfter: number }> = {};
  const rooms = Array.from({ length: Math.ceil(n / PER_ROOM) }, () => uniqueRoom("conn"));
  for (const target of ctx.targets) {
    const before = target.usage().rssBytes;
    const times = new Histogram();
    const conns: Conn[] = [];
    let failed = 0;
    let firstError = "";
    const start = performance.now();
    for (let i = 0; i < n; i += WIDTH) {
      await Promise.all(
        Array.from({ length: Math.min(WIDTH, n - i) }, async (_, k) => {
          const index = i + k;
          const t0 = performance.now();
          try {
            const conn = await target.connect({ room: rooms[Math.floor(index / PER_ROOM)]!, user: `c${index % 500}`, session: `k${index}`, localAddress: ctx.config.localAddresses[index % ctx.config.localAddresses.length], handlers: {} });
            times.record(performance.now() - t0);
            conns.push(conn);
          } catch (error) {
            failed++;
            firstError ||= String(error);
          }
        }),
      );
    }
    const rampS = (performance.now() - start) / 1000;
    await sleep(500); // let the server settle before reading its memory
    const after = target.usage().rssBytes;
    figures[target.name] = { ok: conns.length, rampS, p50: times.percentile(50), p99: times.percentile(99), rssBefore: before, rssAfter: after };
    ctx.log(`  ${target.name}: ${conns.length}/${n} connected in ${rampS.toFixed(1)} s, connect p99 ${times.percentile(99)} ms, RSS ${(before / 2 ** 20).toFixed(0)} → ${(after / 2 ** 20).toFixed(0)} MB${failed ? `, ${failed} failed (${firstError})` : ""}`);
    result.runs.push({ target: target.name, label: `${n} sockets`, ok: conns.length, failed, firstError, rampS, connect: times.summary(), rssBeforeMB: before / 2 ** 20, rssAfterMB: after / 2 ** 20 });
    if (failed) result.checks.push({ scenario: result.name, target: target.name, label: `${n} sockets`, check: { sent: 0, acked: 0, delivered: 0, lost: 0, duplicates: 0, mismatches: 0 }, problems: [], serverErrors: [`${failed} of ${n} connections failed: ${firstError}`] });
    // Drop at once (no close handshake) so the next target starts with the descriptors free again.
    for (const conn of conns) conn.terminate();
    await sleep(2000);
  }
  const pick = (f: (x: (typeof figures)[string]) => number) => Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, f(v)]));
  result.rows.push(
    { metric: `success rate (${n} sockets)`, unit: "%", better: "higher", values: pick((f) => (f.ok / n) * 100) },
    { metric: "ramp time (200 at a time)", unit: "s", better: "lower", values: pick((f) => f.rampS) },
    { metric: "connect→welcome p50", unit: "ms", better: "lower", values: pick((f) => f.p50) },
    { metric: "connect→welcome p99", unit: "ms", better: "lower", values: pick((f) => f.p99) },
    { metric: "server RSS with all sockets open", unit: "MB", better: "lower", values: pick((f) => f.rssAfter / 2 ** 20) },
    { metric: "server memory per socket", unit: "KB", better: "lower", values: pick((f) => (f.rssAfter - f.rssBefore) / 1024 / Math.max(1, f.ok)) },
  );
  result.notes.push(`kaiwa's memory is workerd's RSS (rooms of ${PER_ROOM}, hibernation off); baselines' is the node server's RSS.`);
  return result;
}
