/**
 * A/B of one room's durable throughput with kaiwa's room storage on disk vs on tmpfs (RESULTS.md
 * finding 1), alternating so a shared machine's load hits both sides alike.
 *
 *   node --import tsx bench/storage-ab.ts [/tmp,/dev/shm] [rounds=2]
 */
import { runLoad } from "./lib/load.ts";
import { KaiwaTarget } from "./targets/kaiwa.ts";

const bases = (process.argv[2] ?? "/tmp,/dev/shm").split(",");
const rounds = Number(process.argv[3] ?? 2);
let failed = false;
for (let round = 0; round < rounds; round++) {
  for (const base of bases) {
    const target = new KaiwaTarget({ stateBase: base });
    await target.start();
    const run = await runLoad(target, { label: base, rooms: [`ab-${Date.now()}`], sendersPerRoom: 20, receiversPerRoom: 1, mode: { kind: "window", inFlight: 256 }, seconds: 5 });
    await target.stop();
    const { lost, duplicates, mismatches } = run.check;
    failed ||= lost + duplicates + mismatches > 0;
    console.log(`${base}: ${run.ackedPerSec.toFixed(0)} msgs/s, ack p50 ${run.ack.p50} ms, server CPU ${run.serverCpuPct.toFixed(0)}%, generator CPU ${run.generatorCpuPct.toFixed(0)}%, lost ${lost}, duplicates ${duplicates}`);
  }
}
process.exit(failed ? 1 : 0);
