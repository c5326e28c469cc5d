/** The capacity model's results as text (scripts/capacity.ts prints it; docs/CAPACITY.md shows one). */
import { INPUTS, type Inputs } from "./inputs.ts";
import { FIXES, fmt, gbSecondsPerSec, ladder, shardSize, type Costs, type LadderStep, type Scenario, type Workload } from "./model.ts";

const usd = (value: number) => `$${fmt(value)}`;
const pct = (value: number) => `${fmt(value * 100, value < 0.1 ? 1 : 0)}%`;

function table(rows: string[][], align: Array<"l" | "r">): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (align[c] === "r" ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join("  ").trimEnd());
}

export function renderScenario(s: Scenario, i: Inputs, dau: number): string[] {
  const u = s.usage;
  const out: string[] = [`== ${s.name} ==`];
  for (const a of u.actors) out.push(`  actors: ${a.name}: ${fmt(a.count)}${a.socketsEach ? `, ${fmt(a.socketsEach, 1)} socket${a.socketsEach === 1 ? "" : "s"} each` : ""}; busy ${fmt(a.busySecondsPerSec, 1)} actor-seconds per second`);
  out.push(
    `  sockets: ${fmt(u.sockets)}`,
    `  messages: ${fmt(u.msgsPerSec)}/s average, ${fmt(u.peakMsgsPerSec)}/s peak (${fmt(u.msgsPerSec * 86_400)} a day)`,
    `  requests: Worker ${fmt(u.workerRequestsPerSec)}/s; Durable Objects ${fmt(u.doRequestsPerSec)}/s + WebSocket messages in ${fmt(u.wsInPerSec)}/s (billed as ${fmt(u.wsInPerSec / i.wsMessagesPerBilledRequest)}/s); frames out ${fmt(u.wsOutPerSec)}/s (free)`,
    `  storage writes: ${fmt(u.rowsWrittenPerSec)} rows/s; Durable Object storage grows ${fmt(u.doGrowthGBPerDay, 1)} GB/day`,
    `  archive: ${fmt(u.archiveRowsPerSec * 86_400)} rows/day (${fmt(u.archivePeakRowsPerSec)}/s peak), ${fmt(u.archiveGrowthGBPerDay, 1)} GB/day; ${s.archiveShards} Neon compute(s) at peak`,
    `  duration: ${fmt(gbSecondsPerSec(u.actors, i, false))} GB-s/s hibernation off, ${fmt(gbSecondsPerSec(u.actors, i, true), 1)} GB-s/s on`,
  );
  if (u.cdnRequestsPerSec) out.push(`  CDN: ${fmt(u.cdnRequestsPerSec)} cached reads/s`);
  for (const note of s.notes) out.push(`  note: ${note}`);
  const lines: Array<[string, (c: Costs) => number]> = [
    ["Workers (plan, requests, CPU)", (c) => c.workers],
    ["DO requests", (c) => c.doRequests],
    ["DO duration", (c) => c.doDuration],
    ["DO rows written", (c) => c.doRowsWritten],
    ["DO storage", (c) => c.doStorage],
    ["Neon compute", (c) => c.neonCompute],
    ["Neon storage", (c) => c.neonStorage],
    ["CDN", (c) => c.cdn],
    ["total", (c) => c.total],
    ["total per DAU", (c) => c.total / dau],
  ];
  const { month1: m1, month12: m12 } = s.costs;
  out.push("  monthly cost (USD):");
  out.push(
    ...table(
      [
        ["", "month 1, hib. off", "month 1, hib. on", "month 12, hib. off", "month 12, hib. on"],
        ...lines.map(([label, pick]) => {
          const money = (c: Costs) => (label === "total per DAU" ? `$${fmt(pick(c), 4)}` : usd(pick(c)));
          return [label, money(m1.hibernateOff), money(m1.hibernateOn), money(m12.hibernateOff), money(m12.hibernateOn)];
        }),
      ],
      ["l", "r", "r", "r", "r"],
    ).map((l) => `    ${l}`),
  );
  out.push("  limits at peak:");
  out.push(
    ...table(
      s.limits.map((l) => [l.utilisation >= 1 ? "BREAKS" : "ok", pct(l.utilisation), `${fmt(l.used)} of ${fmt(l.limit)}`, l.what]),
      ["l", "r", "l", "l"],
    ).map((l) => `    ${l}`),
  );
  return out;
}

export function renderLadder(steps: LadderStep[]): string[] {
  const out: string[] = ["== The first limit to break at each order of magnitude (DAU scaled with concurrency; limits already broken below it not repeated) =="];
  for (const step of steps) {
    out.push(`${fmt(step.concurrent)} concurrent (${fmt(step.dau)} DAU):`);
    for (const entry of step.shapes) {
      if (entry.first) {
        const l = entry.first;
        out.push(`  ${entry.scenario}: BREAKS at ~${fmt(l.breaksAt)}: ${l.what}: ${pct(l.utilisation)}${entry.alsoBroken.length ? `; also broken by then: ${entry.alsoBroken.map((b) => `${b.id} (at ~${fmt(b.breaksAt)})`).join(", ")}` : ""}`);
        out.push(`    do: ${FIXES[l.id]}`);
      } else out.push(`  ${entry.scenario}: nothing new breaks; ${entry.nearest ? `nearest: ${entry.nearest.what}: ${pct(entry.nearest.utilisation)}` : "every limit it has broke below this"}`);
    }
  }
  return out;
}

export function renderReport(w: Workload, i: Inputs, scenarios: Scenario[]): string {
  const toVerify = Object.values(INPUTS).filter((x) => "verify" in x && x.verify).length;
  const shard = shardSize(i, false);
  const out: string[] = [
    `kaiwa capacity model: ${fmt(w.dau)} DAU, ${fmt(w.concurrent)} concurrent, ${w.msgsPerUserPerDay} messages per user a day, peak x${w.peakFactor}`,
    `inputs: scripts/capacity/inputs.ts (${Object.keys(INPUTS).length}, ${toVerify} marked to verify); method and caveats: docs/CAPACITY.md`,
    `sockets per actor: ${fmt(shard.byMemory)} by memory (hibernation off), ${fmt(i.socketsPerActorHibernated)} with hibernation; ${fmt(shard.bySends)} at ${i.relayHz} frames/s each by the send budget; ${fmt(shard.byStorm)} by a ${i.stormTargetS} s reconnect storm`,
    "",
  ];
  for (const s of scenarios) out.push(...renderScenario(s, i, w.dau), "");
  out.push(...renderLadder(ladder(w, i)));
  return out.join("\n") + "\n";
}

export function renderInputs(): string {
  const rows = Object.entries(INPUTS).map(([name, x]) => [name, fmt(x.value, 3), x.unit, x.kind + ("verify" in x && x.verify ? " (verify)" : ""), `${x.what}. Source: ${x.source}`]);
  return table([["input", "value", "unit", "kind", "what, source"], ...rows], ["l", "r", "l", "l", "l"]).join("\n") + "\n";
}
