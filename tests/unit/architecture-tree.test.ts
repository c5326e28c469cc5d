/**
 * ARCHITECTURE.md's tree stays true: every tracked top-level folder has its own entry in the tree, and every
 * tracked folder one level below (party/core/, bench/lib/, tests/react/, ...) is named in its parent's entry,
 * so a folder added without a word in the map fails here instead of going stale silently.
 *
 * Tracked means `git ls-files`: built or local folders (node_modules/, dist/, public/dist/, bench/out/) are not
 * the project's and need no entry.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { test } from "node:test";

const ROOT = resolve(import.meta.dirname, "..", "..");

/** The first fenced block of ARCHITECTURE.md: the tree. */
function tree(): string {
  const text = readFileSync(resolve(ROOT, "ARCHITECTURE.md"), "utf8");
  const block = /^```\n([\s\S]*?)^```$/m.exec(text);
  assert.ok(block, "ARCHITECTURE.md has no fenced tree");
  return block[1]!;
}

/** Each top-level entry of the tree (a line starting at column 0 up to the next such line), by its folder. */
function entries(treeText: string): Map<string, string> {
  const found = new Map<string, string>();
  let current: { name: string; lines: string[] } | undefined;
  for (const line of treeText.split("\n")) {
    const top = /^([^\s/]+)\//.exec(line);
    if (top) {
      current = { name: top[1]!, lines: [] };
      found.set(current.name, "");
    }
    if (current) {
      current.lines.push(line);
      found.set(current.name, current.lines.join("\n"));
    }
  }
  return found;
}

/** Tracked folders: top-level ones, and for each the folders directly inside it. */
function trackedFolders(): Map<string, Set<string>> {
  const listing = execFileSync("git", ["ls-files", "-z"], { cwd: ROOT, encoding: "utf8" });
  const folders = new Map<string, Set<string>>();
  for (const path of listing.split("\0").filter(Boolean)) {
    const parts = path.split("/");
    if (parts.length < 2) continue;
    const inside = folders.get(parts[0]!) ?? new Set<string>();
    if (parts.length > 2) inside.add(parts[1]!);
    folders.set(parts[0]!, inside);
  }
  return folders;
}

test("every tracked top-level folder has its own entry in ARCHITECTURE.md's tree", () => {
  const inTree = entries(tree());
  const missing = [...trackedFolders().keys()].filter((folder) => !inTree.has(folder));
  assert.deepEqual(missing, [], `add an entry for each to ARCHITECTURE.md's tree: ${missing.map((f) => `${f}/`).join(", ")}`);
});

test("every folder under party/ is its own indented entry in the tree", () => {
  const party = entries(tree()).get("party") ?? "";
  const missing = [...(trackedFolders().get("party") ?? [])].filter((folder) => !new RegExp(`^  ${folder}/`, "m").test(party));
  assert.deepEqual(missing, [], `add a line "  <folder>/  <what it holds>" under party/ for: ${missing.join(", ")}`);
});

test("every tracked folder one level below the top is named (as `name/`) in its parent's entry", () => {
  const inTree = entries(tree());
  const missing: string[] = [];
  for (const [parent, inside] of trackedFolders()) {
    const entry = inTree.get(parent) ?? "";
    for (const folder of inside) if (!new RegExp(`(^|[\\s(\`/])${folder.replace(/[.]/g, "\\.")}/`, "m").test(entry)) missing.push(`${parent}/${folder}/`);
  }
  assert.deepEqual(missing, [], `name each in its parent's entry of ARCHITECTURE.md's tree: ${missing.join(", ")}`);
});

test("the tree check reads entries the way they are written (a folder left out is reported)", () => {
  const sample = "party/\n  core/        pure\nbench/         lib/ and plots/\n";
  const parsed = entries(sample);
  assert.deepEqual([...parsed.keys()], ["party", "bench"]);
  assert.match(parsed.get("party")!, /^  core\//m);
  assert.doesNotMatch(parsed.get("party")!, /^  room\//m);
  assert.doesNotMatch(parsed.get("party")!, /bench/);
});
