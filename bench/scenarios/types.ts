/** Shared shapes of scenario results: rows for the side-by-side table, charts, and every run's checks. */
import type { Chart } from "../lib/svg-chart.ts";
import type { LoadResult } from "../lib/load.ts";
import type { Target, TargetName } from "../targets/types.ts";

export type Row = {
  metric: string;
  unit: string;
  better: "higher" | "lower";
  values: Partial<Record<TargetName, number>>;
  /** A target from the issue, judged on kaiwa's figure. */
  goal?: { text: string; pass: boolean };
};

/** Any run's correctness: the bench fails if one of these has a loss, duplicate, mismatch or server error. */
export type RunCheck = { scenario: string; target: string; label: string; check: LoadResult["check"]; problems: LoadResult["problems"]; serverErrors: string[]; stall?: string[] };

export type ScenarioResult = {
  name: string;
  title: string;
  rows: Row[];
  charts: Array<{ file: string; chart: Chart }>;
  runs: Array<Omit<LoadResult, "problems"> | Record<string, unknown>>;
  checks: RunCheck[];
  notes: string[];
};

export type BenchConfig = {
  full: boolean;
  seconds: number;
  burstSeconds: number;
  /** Concurrent users for the latency-vs-load steps (rooms of 10, each user sending at perUserRate). */
  latencyUsers: number[];
  perUserRate: number;
  connections: number;
  fanoutMembers: number;
  fanoutRate: number;
  bigRoom: number;
  storm: number;
  pairs: number;
  /**
   * DMs per second per pair, rising: the goal is judged at the first (still far above how fast two people
   * write to each other), the last shows where the box saturates.
   */
  dmRates: number[];
  /** The flood scenario's two halves: this long without a flood, then this long with it (the longest a flooder runs: the baselines never close it). */
  floodSeconds: number;
  localAddresses: string[];
};

export const QUICK: BenchConfig = {
  full: false,
  seconds: 2,
  burstSeconds: 2,
  latencyUsers: [50, 300],
  perUserRate: 10,
  connections: 1000,
  fanoutMembers: 500,
  fanoutRate: 100,
  bigRoom: 1000,
  storm: 1000,
  pairs: 100,
  dmRates: [0.5, 2],
  floodSeconds: 3,
  localAddresses: ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"],
};

export const FULL: BenchConfig = {
  ...QUICK,
  full: true,
  seconds: 10,
  burstSeconds: 30,
  latencyUsers: [50, 200, 500, 1000, 2000],
  connections: 20_000,
  bigRoom: 5000,
  pairs: 1000,
  dmRates: [0.1, 0.5], // 100 and 500 DMs/s: the box saturates near 200 (RESULTS.md)
  floodSeconds: 5,
};

export type Ctx = {
  targets: Target[];
  config: BenchConfig;
  log: (line: string) => void;
  /** A second kaiwa server, not started, set up as the bench's but with these vars (the flood scenario's deployment defaults). */
  kaiwaWith?: (vars: Record<string, string>) => Target;
};

export function checkOf(scenario: string, result: LoadResult): RunCheck {
  return { scenario, target: result.target, label: result.label, check: result.check, problems: result.problems, serverErrors: result.serverErrors, stall: result.stall };
}

export function uniqueRoom(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
}
