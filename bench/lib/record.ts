/**
 * `--record`: writes bench/RESULTS.md (figures, machine, date, load) and copies the SVG plots to
 * bench/plots/ so they are versioned with it. Text below the NOTES marker is kept across recordings.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { markdownOf } from "./report.ts";
import type { ScenarioResult } from "../scenarios/types.ts";

const NOTES = "<!-- notes: kept by --record -->";

export type RecordInfo = {
  started: Date;
  command: string;
  mode: string;
  kaiwaState: string;
  /** Whether partykit dev's DevTools session stayed attached to workerd (--kaiwa-devtools). */
  kaiwaDevtools: boolean;
  /** Whether partykit dev kept reporting every request to its Node process (--kaiwa-request-log). */
  kaiwaRequestLog: boolean;
  machine: { cpu: string; cores: number; memGB: number; node: string; loadAtStart: number[] };
  loadAtEnd: number[];
  runs: number;
  deliveries: number;
  generatorCpuMax: number;
};

export function record(benchDir: string, outDir: string, info: RecordInfo, results: ScenarioResult[]): string {
  const file = join(benchDir, "RESULTS.md");
  const kept = existsSync(file) ? readFileSync(file, "utf8").split(NOTES)[1] ?? "\n" : "\n";
  const plots = join(benchDir, "plots");
  mkdirSync(plots, { recursive: true });
  const charts = results.flatMap((r) => r.charts.map((c) => c.file));
  for (const chart of charts) copyFileSync(join(outDir, chart), join(plots, chart));
  const m = info.machine;
  const text = [
    "# Benchmark results",
    "",
    `Recorded ${info.started.toISOString().slice(0, 16).replace("T", " ")} UTC with \`${info.command}\` (${info.mode}).`,
    `Machine: ${m.cores} cores (${m.cpu}), ${m.memGB} GB RAM, Node ${m.node}; load generator on the same box.`,
    `Load average (1/5/15 min) at start ${m.loadAtStart.join(" / ")}, at end ${info.loadAtEnd.join(" / ")}: the start figure shows other work on the machine (above ~1 on 2 cores: it shared the CPUs and every figure below is lower than on an idle box); the end figure includes the bench's own server and generator, which keep both cores busy.`,
    `kaiwa: a real \`partykit dev\` (workerd), hibernation off, room storage in ${info.kaiwaState}, each scenario after the first on a new server (finding 2), partykit's DevTools session ${info.kaiwaDevtools ? "attached (--kaiwa-devtools)" : "detached (finding 11)"}, its per-request log ${info.kaiwaRequestLog ? "on (--kaiwa-request-log)" : "off (finding 12)"}. The baselines store nothing durably (Socket.IO + Redis adapter: Redis is only their pub/sub, persistence off; bare ws: memory only).`,
    `Correctness: ${info.runs} runs, ${info.deliveries.toLocaleString("en-US")} deliveries checked by (room, seq, clientId), nothing lost or duplicated. Load generator CPU peaked at ${info.generatorCpuMax.toFixed(0)}% of one core (${info.generatorCpuMax < 80 ? "below saturation: not the bottleneck" : "near one core: the generator may limit some figures"}).`,
    "",
    "Ratios are kaiwa ÷ baseline; ↑ means higher is better, ↓ lower is better. Goals are the issue's targets, judged on kaiwa's figure.",
    "",
    ...results.map(markdownOf),
    "## Plots",
    "",
    ...charts.map((c) => `![${c}](plots/${c})`),
    "",
    NOTES,
  ].join("\n");
  writeFileSync(file, text + kept);
  return file;
}
