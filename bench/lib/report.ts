/** The stdout table: every metric with kaiwa's figure, the baselines', the ratios, and the issue's goal. */
import type { Row, RunCheck, ScenarioResult } from "../scenarios/types.ts";

const fmt = (v: number | undefined): string => {
  if (v === undefined || Number.isNaN(v)) return "-";
  if (!Number.isFinite(v)) return "∞";
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString("en-US");
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
};

const ratio = (row: Row, other: "socketio" | "ws"): string => {
  const k = row.values.kaiwa;
  const o = row.values[other];
  if (k === undefined || o === undefined || !o || !Number.isFinite(k) || !Number.isFinite(o)) return "-";
  return `${(k / o).toFixed(2)}x`;
};

export function tableOf(scenario: ScenarioResult): string {
  const header = ["metric", "unit", "kaiwa", "socket.io+redis", "bare ws", "kaiwa/sio", "kaiwa/ws", "goal (kaiwa)"];
  const lines = scenario.rows.map((row) => [
    row.metric,
    `${row.unit} ${row.better === "higher" ? "↑" : "↓"}`,
    fmt(row.values.kaiwa),
    fmt(row.values.socketio),
    fmt(row.values.ws),
    ratio(row, "socketio"),
    ratio(row, "ws"),
    row.goal ? `${row.goal.pass ? "PASS" : "MISS"} ${row.goal.text}` : "",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const render = (cells: string[]) => cells.map((c, i) => (i === 0 || i === 7 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd();
  return [`\n== ${scenario.title}`, render(header), ...lines.map(render), ...scenario.notes.map((n) => `   note: ${n}`)].join("\n");
}

/** Markdown version for RESULTS.md. */
export function markdownOf(scenario: ScenarioResult): string {
  const rows = scenario.rows.map(
    (row) => `| ${row.metric} | ${row.unit} ${row.better === "higher" ? "↑" : "↓"} | ${fmt(row.values.kaiwa)} | ${fmt(row.values.socketio)} | ${fmt(row.values.ws)} | ${ratio(row, "socketio")} | ${ratio(row, "ws")} | ${row.goal ? `${row.goal.pass ? "**PASS**" : "**MISS**"} ${row.goal.text}` : ""} |`,
  );
  return [`### ${scenario.title}`, "", "| metric | unit | kaiwa | socket.io+redis | bare ws | kaiwa/sio | kaiwa/ws | goal |", "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |", ...rows, ...scenario.notes.map((n) => `\n_${n}_`), ""].join("\n");
}

export function failuresOf(checks: RunCheck[]): string[] {
  const out: string[] = [];
  for (const c of checks) {
    const { lost, duplicates, mismatches } = c.check;
    if (lost || duplicates || mismatches || c.serverErrors.length) {
      out.push(`${c.scenario} / ${c.target} / ${c.label}: lost ${lost}, duplicates ${duplicates}, mismatches ${mismatches}, server errors ${c.serverErrors.length}`);
      for (const p of c.problems.slice(0, 5)) out.push(`    ${p.kind} room=${p.room} seq=${p.seq ?? "-"} clientId=${p.clientId ?? "-"}${p.receiver ? ` receiver=${p.receiver}` : ""}: ${p.detail}`);
      for (const e of c.serverErrors.slice(0, 3)) out.push(`    server: ${e}`);
      for (const line of c.stall ?? []) out.push(`    ${line}`);
    }
  }
  return out;
}
