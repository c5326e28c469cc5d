/**
 * The documented configuration is the loader's: README's production tables (`| variable | default |
 * validation | meaning |`, the general one and the archive's) list exactly the production variables
 * `configVariables()` (party/config.ts) knows, with the same numeric defaults; README's test-switch table
 * lists exactly KAIWA_TEST_MODE and the switches of party/test-switches.ts; and PROTOCOL.md's Environment
 * table names only production variables. A variable added to the loader without its row, a row left after
 * its variable went, or a switch documented among production settings fails here.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, it } from "node:test";
import { configVariables } from "../../party/config.ts";
import { TEST_MODE_VAR, TEST_SWITCHES } from "../../party/test-switches.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");
const README = readFileSync(resolve(ROOT, "README.md"), "utf8");
const PROTOCOL = readFileSync(resolve(ROOT, "party/protocol/PROTOCOL.md"), "utf8");

type Row = { names: string[]; cells: string[] };

/** The rows of every Markdown table whose header line is exactly `header`. */
function tablesWithHeader(markdown: string, header: string): Row[][] {
  const lines = markdown.split("\n");
  const tables: Row[][] = [];
  lines.forEach((line, i) => {
    if (line.trim() !== header) return;
    const rows: Row[] = [];
    for (let j = i + 2; j < lines.length && lines[j]!.startsWith("|"); j++) {
      const cells = lines[j]!.split("|").slice(1, -1).map((cell) => cell.trim());
      rows.push({ names: [...cells[0]!.matchAll(/`(KAIWA_[A-Z0-9_]+)`/g)].map((m) => m[1]!), cells });
    }
    tables.push(rows);
  });
  return tables;
}

const PRODUCTION_HEADER = "| variable | default | validation | meaning |";
const SWITCH_HEADER = "| variable | what it does |";

const loader = configVariables();
const productionNames = loader.filter((v) => !v.testOnly).map((v) => v.name);
const testNames = loader.filter((v) => v.testOnly).map((v) => v.name);

const sorted = (names: Iterable<string>) => [...new Set(names)].sort();

describe("README's configuration tables are the loader's variables", () => {
  it("the loader's own lists: production variables have no test prefix; the test ones are KAIWA_TEST_MODE and every switch", () => {
    assert.deepEqual(productionNames.filter((name) => name.startsWith("KAIWA_TEST_")), []);
    assert.deepEqual(sorted(testNames), sorted([TEST_MODE_VAR, ...Object.keys(TEST_SWITCHES)]));
  });

  it("the production tables list exactly the production variables, each once", () => {
    const rows = tablesWithHeader(README, PRODUCTION_HEADER).flat();
    assert.ok(rows.length > 0, `README has no table headed ${PRODUCTION_HEADER}`);
    const documented = rows.flatMap((row) => row.names);
    assert.deepEqual(documented.filter((name, i) => documented.indexOf(name) !== i), [], "a variable has two rows");
    assert.deepEqual(sorted(documented), sorted(productionNames));
  });

  it("the test-switch table lists exactly KAIWA_TEST_MODE and every switch of party/test-switches.ts", () => {
    const tables = tablesWithHeader(README, SWITCH_HEADER);
    assert.equal(tables.length, 1, `README should have one table headed ${SWITCH_HEADER}`);
    const documented = tables[0]!.flatMap((row) => row.names);
    assert.deepEqual(documented.filter((name, i) => documented.indexOf(name) !== i), [], "a switch has two rows");
    assert.deepEqual(sorted(documented), sorted(testNames));
  });

  it("numeric defaults in the production tables are the loader's", () => {
    const defaults = new Map(loader.map((v) => [v.name, v.default]));
    const mismatches: string[] = [];
    for (const row of tablesWithHeader(README, PRODUCTION_HEADER).flat()) {
      const shown = row.cells[1]!.replace(/`/g, "").split(/,\s+/);
      if (shown.length !== row.names.length) continue; // one default for several variables (all unset), checked by name above
      row.names.forEach((name, i) => {
        const expected = defaults.get(name)!;
        if (!/^\d+$/.test(expected)) return;
        const number = /^[\d,]+/.exec(shown[i]!)?.[0]?.replace(/,/g, "");
        if (number !== expected) mismatches.push(`${name}: README says ${JSON.stringify(shown[i])}, the loader ${expected}`);
      });
    }
    assert.deepEqual(mismatches, []);
  });

  it("the check reads tables as written: a switch missing from its table, or one in the wrong table, is seen", () => {
    const last = tablesWithHeader(README, SWITCH_HEADER)[0]!.at(-1)!;
    const withoutRow = README.replace(`| ${last.cells.join(" | ")} |\n`, "");
    assert.notEqual(withoutRow, README, "the switch table's last row was not found as written");
    const left = tablesWithHeader(withoutRow, SWITCH_HEADER)[0]!.flatMap((row) => row.names);
    assert.deepEqual(last.names.filter((name) => left.includes(name)), []);
    const sample = `${PRODUCTION_HEADER}\n| --- | --- | --- | --- |\n| \`KAIWA_TEST_HOLD_NOTIFY\`, \`KAIWA_HIBERNATE\` | 0 | x | y |\n\nafter`;
    assert.deepEqual(tablesWithHeader(sample, PRODUCTION_HEADER).flat().flatMap((row) => row.names), ["KAIWA_TEST_HOLD_NOTIFY", "KAIWA_HIBERNATE"]);
  });
});

describe("PROTOCOL.md's Environment section agrees with party/config.ts", () => {
  const start = PROTOCOL.indexOf("\nEnvironment (");
  const section = PROTOCOL.slice(start, PROTOCOL.indexOf("\n### ", start));

  it("its table names only production variables the loader knows, and says a bad value is refused, not defaulted", () => {
    assert.ok(start >= 0, "PROTOCOL.md has no Environment paragraph");
    const rows = tablesWithHeader(section, "| variable | effect |");
    assert.equal(rows.length, 1);
    const named = rows[0]!.flatMap((row) => row.names);
    assert.ok(named.length > 0);
    assert.deepEqual(named.filter((name) => !productionNames.includes(name)), []);
    assert.doesNotMatch(section, /else the default/);
    assert.match(section, /party\/config\.ts/);
  });

  it("the test switches it names are real switches, in a note of their own that names KAIWA_TEST_MODE", () => {
    const note = section.slice(section.indexOf("Test-only switches"));
    assert.ok(section.includes("Test-only switches"), "no separate note on test switches");
    assert.match(note, /KAIWA_TEST_MODE=1/);
    const named = [...note.matchAll(/`(KAIWA_TEST_[A-Z0-9_]+)/g)].map((m) => m[1]!);
    assert.deepEqual(named.filter((name) => !testNames.includes(name)), []);
  });
});
