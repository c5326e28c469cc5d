/**
 * `npm run capacity -- --dau 50000000 --concurrent 10000000 [options]`: the capacity and cost model
 * (scripts/capacity/model.ts) over its inputs (scripts/capacity/inputs.ts), printed as text, or as JSON
 * with --json. `--inputs` prints the inputs table with sources. docs/CAPACITY.md explains the method.
 */
import { parseArgs } from "node:util";
import { inputValues, INPUTS } from "./capacity/inputs.ts";
import { DEFAULT_WORKLOAD, dmScenario, groupScenario, ladder, liveScenario, liveTodayLimits, type Workload } from "./capacity/model.ts";
import { renderInputs, renderReport } from "./capacity/report.ts";

const USAGE = `usage: npm run capacity -- [--dau N] [--concurrent N] [--msgs-per-user-day N] [--peak-factor N] [--devices N]
                           [--group-size N] [--groups-per-user N] [--stream-viewers N] [--stream-msgs-per-sec N]
                           [--poster-fraction F] [--set INPUT=VALUE ...] [--json] [--inputs]
defaults: ${JSON.stringify(DEFAULT_WORKLOAD)}`;

const FLAGS: Record<string, keyof Workload> = {
  dau: "dau",
  concurrent: "concurrent",
  "msgs-per-user-day": "msgsPerUserPerDay",
  "peak-factor": "peakFactor",
  devices: "devicesPerUser",
  "group-size": "groupSize",
  "groups-per-user": "groupsPerUser",
  "stream-viewers": "viewersPerStream",
  "stream-msgs-per-sec": "streamMsgsPerSec",
  "poster-fraction": "posterFraction",
};

function main(argv: string[]): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        ...Object.fromEntries(Object.keys(FLAGS).map((flag) => [flag, { type: "string" as const }])),
        set: { type: "string", multiple: true },
        json: { type: "boolean" },
        inputs: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    console.error(`capacity: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const values = parsed.values as Record<string, string | string[] | boolean | undefined>;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.inputs) {
    process.stdout.write(renderInputs());
    return 0;
  }
  const workload: Workload = { ...DEFAULT_WORKLOAD };
  for (const [flag, key] of Object.entries(FLAGS)) {
    const raw = values[flag];
    if (raw === undefined) continue;
    const value = Number(raw);
    if (typeof raw !== "string" || !Number.isFinite(value) || value < 0 || (key !== "posterFraction" && key !== "peakFactor" && key !== "msgsPerUserPerDay" && !Number.isInteger(value))) {
      console.error(`capacity: --${flag}: expected a number >= 0${key === "posterFraction" ? "" : " (whole for counts)"}, got ${JSON.stringify(raw)}`);
      return 2;
    }
    workload[key] = value;
  }
  if (workload.concurrent <= 0 || workload.dau < workload.concurrent) {
    console.error("capacity: --concurrent must be > 0 and at most --dau");
    return 2;
  }
  let inputs;
  try {
    const overrides: Record<string, number> = {};
    for (const pair of (values.set as string[] | undefined) ?? []) {
      const [name, value] = pair.split("=");
      overrides[name ?? ""] = value === undefined || value === "" ? NaN : Number(value);
    }
    inputs = inputValues(overrides);
  } catch (error) {
    console.error(`capacity: ${(error as Error).message}`);
    return 2;
  }
  const scenarios = [dmScenario(workload, inputs), groupScenario(workload, inputs, "today"), groupScenario(workload, inputs, "proposed"), liveScenario(workload, inputs)];
  if (values.json) {
    console.log(JSON.stringify({ workload, inputs, scenarios, liveToday: liveTodayLimits(workload, inputs), ladder: ladder(workload, inputs), sources: INPUTS }, null, 2));
    return 0;
  }
  process.stdout.write(renderReport(workload, inputs, scenarios));
  return 0;
}

process.exitCode = main(process.argv.slice(2));
