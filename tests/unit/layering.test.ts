/**
 * The layering, checked on the import graph (ARCHITECTURE.md): core/ and protocol/ are pure and import only
 * inward; adapters and the archive never reach into an actor's shell; no actor reaches into another's folder
 * (what two actors share lives in core/, protocol/ or adapters/); the client sees only party/protocol/ and
 * the packages it ships with; and no file imports itself back through others (no cycle), type-only imports
 * included.
 */
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";

const ROOT = resolve(import.meta.dirname, "..", "..");

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) return sources(path);
    return name.endsWith(".ts") && !name.endsWith(".d.ts") ? [path] : [];
  });
}

/** Every import or re-export specifier of a file: relative ones resolved to repo paths, packages as named. */
function importsOf(file: string): Array<{ spec: string; target: string | undefined }> {
  const text = readFileSync(join(ROOT, file), "utf8");
  const found: Array<{ spec: string; target: string | undefined }> = [];
  for (const match of text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|^\s*import\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/gm)) {
    const spec = (match[1] ?? match[2] ?? match[3])!;
    found.push({ spec, target: spec.startsWith(".") ? relative(ROOT, resolve(ROOT, dirname(file), spec)) : undefined });
  }
  return found;
}

const files = [...sources("party"), ...sources("client")];
const graph = new Map(files.map((file) => [file, importsOf(file)]));

function violations(from: string, allowed: (imp: { spec: string; target: string | undefined }) => boolean): string[] {
  return [...graph].filter(([file]) => file.startsWith(from)).flatMap(([file, imports]) => imports.filter((imp) => !allowed(imp)).map((imp) => `${file} -> ${imp.spec}`));
}

test("party/core/ imports only party/core/ and party/protocol/ (no runtime, no package)", () => {
  assert.deepEqual(violations("party/core/", (imp) => imp.target !== undefined && (imp.target.startsWith("party/core/") || imp.target.startsWith("party/protocol/"))), []);
});

// lib0's encoding and decoding: the awareness wire (awareness.ts, PROTOCOL R72), byte for byte y-protocols' own.
const PROTOCOL_PACKAGES = new Set(["zod", "zod/mini", "lib0/encoding", "lib0/decoding"]);

test("party/protocol/ imports only itself, zod and lib0's encoding and decoding", () => {
  assert.deepEqual(violations("party/protocol/", (imp) => (imp.target !== undefined ? imp.target.startsWith("party/protocol/") : PROTOCOL_PACKAGES.has(imp.spec))), []);
});

// The browser bundle's size budget (client-bundle-size.test.ts) holds only while nothing the client
// bundles imports classic zod: its method chains keep all of zod in the bundle.
// admin-schema.ts and publish-schema.ts are parsed only by the worker and the actors (the operator's and an
// app backend's requests), never by the client, so they keep classic zod.
const SERVER_ONLY_SCHEMAS = new Set(["party/protocol/admin-schema.ts", "party/protocol/publish-schema.ts"]);
// Likewise the operator's admin client and an app backend's publisher (never exported from client/index.ts).
const NOT_IN_BROWSER_BUNDLE = new Set(["client/admin.ts", "client/publisher.ts"]);

test("the client's bundle (client/ but admin.ts and publisher.ts, the protocol but the server-only schemas) never imports classic zod", () => {
  const bundled = (file: string) => (file.startsWith("client/") && !NOT_IN_BROWSER_BUNDLE.has(file)) || (file.startsWith("party/protocol/") && !SERVER_ONLY_SCHEMAS.has(file));
  const classic = [...graph].filter(([file]) => bundled(file)).flatMap(([file, imports]) => imports.filter((imp) => imp.spec === "zod").map((imp) => `${file} -> zod`));
  assert.deepEqual(classic, []);
});

/** The actors' folders: each one actor's shell (the worker's is the entry in front of them all). */
const ACTORS = ["room", "inbox", "directory", "relay", "worker"] as const;
const actorOf = (path: string | undefined) => ACTORS.find((actor) => path?.startsWith(`party/${actor}/`));

test("adapters and the archive never import an actor's shell (room/, inbox/, directory/, relay/, worker/)", () => {
  const allowed = (imp: { target: string | undefined }) => actorOf(imp.target) === undefined;
  assert.deepEqual([...violations("party/adapters/", allowed), ...violations("party/archive/", allowed)], []);
});

/**
 * The worker's entry may name the actors' servers it exports (partykit.json lists them as parties today, so
 * it imports none); nothing else crosses from one actor's folder into another's.
 */
const SERVERS = new Set(ACTORS.filter((actor) => actor !== "worker").map((actor) => `party/${actor}/server.ts`));
const mayCross = (file: string, target: string) => file === "party/worker/main.ts" && SERVERS.has(target);

test("no actor folder imports another actor's folder (the worker's main.ts may import the servers it exports)", () => {
  const crossings = [...graph].flatMap(([file, imports]) => {
    const from = actorOf(file);
    if (from === undefined) return [];
    return imports.filter((imp) => imp.target !== undefined && actorOf(imp.target) !== undefined && actorOf(imp.target) !== from && !mayCross(file, imp.target)).map((imp) => `${file} -> ${imp.spec}`);
  });
  assert.deepEqual(crossings, []);
});

/**
 * Packages the client's files import: what kaiwa/client and its entries ship with (package.json's
 * dependencies and peer dependencies). A new one is a decision, made here on purpose.
 */
const CLIENT_PACKAGES = new Set(["nanoid", "partysocket/ws", "react", "zod", "zod/mini"]);

test("the client imports only client/, party/protocol/ and its allowed packages", () => {
  const allowed = (imp: { spec: string; target: string | undefined }) =>
    imp.target === undefined ? CLIENT_PACKAGES.has(imp.spec) : imp.target.startsWith("client/") || imp.target.startsWith("party/protocol/");
  assert.deepEqual(violations("client/", allowed), []);
});

test("no import cycle in party/ or client/", () => {
  const cycles: string[] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (file: string): void => {
    state.set(file, "open");
    stack.push(file);
    for (const { target } of graph.get(file) ?? []) {
      if (!target || !graph.has(target)) continue;
      if (state.get(target) === "open") cycles.push([...stack.slice(stack.indexOf(target)), target].join(" -> "));
      else if (!state.has(target)) visit(target);
    }
    stack.pop();
    state.set(file, "done");
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  assert.deepEqual(cycles, []);
});

test("the check sees the graph (a broken scan would pass every rule above)", () => {
  assert.ok(graph.size > 80, `${graph.size} files`);
  assert.ok((graph.get("party/room/server.ts") ?? []).some((imp) => imp.target === "party/room/writer.ts"), "room/server.ts imports room/writer.ts");
  assert.ok((graph.get("party/core/room-core.ts") ?? []).some((imp) => imp.target === "party/protocol/index.ts"));
  assert.ok((graph.get("party/relay/expiry.ts") ?? []).some((imp) => imp.target === "party/adapters/token-expiry.ts"), "relay/expiry.ts imports adapters/token-expiry.ts");
  assert.ok((graph.get("client/connection.ts") ?? []).some((imp) => imp.spec === "partysocket/ws"), "the client's package imports are seen");
});
