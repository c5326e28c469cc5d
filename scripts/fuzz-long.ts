/**
 * The long fuzz run (`npm run fuzz`): the properties of `npm test` (tests/fuzz/properties.ts) with
 * FUZZ_RUNS times their runs (default 100). Seeds are random; a failure prints fast-check's seed, path and
 * shrunk counterexample (replay with FUZZ_SEED=<seed> FUZZ_PATH=<path>). Known failures (`todo`) are
 * reported but do not fail the run; one that passes is named, so its todo can go.
 *
 *   npm run fuzz                          # everything, 100x
 *   FUZZ_RUNS=10 npm run fuzz -- room     # only properties whose name contains "room", 10x
 */
import { PROPERTIES, runProperty } from "../tests/fuzz/properties.ts";

const scale = Number(process.env.FUZZ_RUNS ?? 100);
if (!(scale > 0)) throw new Error(`FUZZ_RUNS must be a positive number, got ${process.env.FUZZ_RUNS}`);
const filter = process.argv[2];
const selected = PROPERTIES.filter((p) => !filter || p.name.includes(filter));
let failed = 0;
const started = Date.now();
for (const property of selected) {
  const t0 = Date.now();
  const runs = Math.max(1, Math.round(property.numRuns * scale));
  try {
    runProperty(property, scale);
    const note = property.todo ? "  <- marked todo but passes now: remove its todo" : "";
    console.log(`ok    ${property.name} (${runs} runs, ${((Date.now() - t0) / 1000).toFixed(1)} s)${note}`);
  } catch (error) {
    // fast-check's message has the seed, path and counterexample; the property's own error is its cause.
    const cause = error instanceof Error && error.cause instanceof Error ? `\ncause: ${error.cause.message}` : "";
    const message = (error instanceof Error ? error.message : String(error)) + cause;
    if (property.todo) {
      console.log(`todo  ${property.name}: fails as known\n${indent(message.split("\n").filter((line) => !line.startsWith("Hint") && line.trim()).join("\n").slice(0, 1500))}`);
    } else {
      failed++;
      console.log(`FAIL  ${property.name}\n${indent(message)}`);
    }
  }
}
console.log(`${selected.length} properties, ${failed} failed, ${((Date.now() - started) / 1000).toFixed(1)} s (FUZZ_RUNS=${scale})`);
process.exitCode = failed > 0 ? 1 : 0;

function indent(text: string): string {
  return text.replace(/^/gm, "      ");
}
