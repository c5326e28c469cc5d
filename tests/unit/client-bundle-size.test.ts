/**
 * The installable client (`npm run build`, scripts/build-client.ts): it builds, package.json's `exports`
 * point at what it builds, an app resolves `kaiwa/client`, its optional entries and `kaiwa/protocol` through
 * them (types with tsc, code with Node), and `kaiwa/client` bundled for a browser with its dependencies stays
 * within its size budget (minified and gzipped), with no Node-only import and none of classic zod
 * (PROTOCOL R71), without its optional parts, the schemas it never parses, the numbers only servers read, zod's
 * record kind and extend, or the error texts (PROTOCOL R76, R79).
 * It builds into dist/, where `exports` point, as `npm run build` does.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { buildClient, type ClientBuild } from "../../scripts/build-client.ts";
import { ERROR_TEXTS, LIMITS, ReceiptsFrame, WIRE_LIMITS, errorFrame } from "../../party/protocol/index.ts";
import { KaiwaError, LOCAL_ERRORS } from "../../client/errors.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");
/**
 * The budget for `kaiwa/client`, minified and gzipped (Socket.IO's client is about 14 KiB): the issue's "25 KB",
 * as 25,000 bytes, which meets it read either way (KB or KiB).
 * The client met it when packaged (25,022 bytes); reactions, threads, pins, files, live redirects, the log
 * poller and search took it to 29,192. PROTOCOL R76 brought it back to 23,959: files and the poller as their
 * own entries (-2.4 KiB), sockets from partysocket/ws without PartySocket's URL layer (-1.2 KiB), the
 * protocol's schemas the client never parses dropped (-0.5 KiB) and the error texts left to the server
 * (-0.7 KiB). Presence over y-protocols awareness (PROTOCOL R72-R75: lib0's encoder and the client's part) and
 * the keepalive ping (PROTOCOL R80) took it to 26,379, and then to 24,706 (24,732 once ids and emoji refuse `__proto__`, PROTOCOL R20): the maps of the schemas as objects
 * with a catchall instead of zod's record kind (-517), LIMITS split so the bundle holds only WIRE_LIMITS
 * (-447), `search` as the entry `kaiwa/client/search` (-418) and spread shapes instead of `z.extend` (-291).
 */
export const CLIENT_BUDGET_GZIP_BYTES = 25_000;

const outDir = join(ROOT, "dist");
// An app inside the package resolves "kaiwa/..." through package.json `exports` (a package's self-reference).
const appDir = join(ROOT, "tmp", `client-consumer-${process.pid}`);
let built: ClientBuild;
before(async () => {
  built = await buildClient({ outDir });
  console.log(`kaiwa/client in a browser: ${built.minifiedBytes} bytes minified, ${built.gzippedBytes} gzipped (budget ${CLIENT_BUDGET_GZIP_BYTES})`);
});
after(() => rmSync(appDir, { recursive: true, force: true }));

test("PROTOCOL R76: kaiwa/client for a browser, dependencies included, is within its budget (25,000 bytes) minified and gzipped", () => {
  assert.ok(built.gzippedBytes > 5_000, `a ${built.gzippedBytes}-byte bundle cannot hold the client`);
  assert.ok(built.gzippedBytes <= CLIENT_BUDGET_GZIP_BYTES, `kaiwa/client is ${built.gzippedBytes} bytes gzipped; the budget is ${CLIENT_BUDGET_GZIP_BYTES}`);
});

test("the browser bundle holds no Node built-in and none of classic zod (whose chains keep all of zod)", () => {
  assert.deepEqual(built.inputs.filter((input) => input.startsWith("node:") || /(^|\/)(fs|net|tls|http|crypto|ws)(\/|$)/.test(input) && !input.includes("partysocket")), []);
  assert.deepEqual(built.inputs.filter((input) => input.includes("zod/v4/classic") || input.includes("zod/v4/locales")), []);
  assert.ok(built.inputs.some((input) => input.includes("zod/v4/mini")), "the client parses frames with zod/mini");
});

test("PROTOCOL R76, R79: kaiwa/client leaves out files, the poller, React, the schemas it never parses and the error texts", () => {
  const esm = readFileSync(join(outDir, "client.js"), "utf8");
  // esbuild heads each module's code with its path: none of the optional parts is in the client's entry.
  for (const part of ["client/uploads.ts", "client/files.ts", "client/log-poller.ts", "client/search.ts", "client/react.ts"]) assert.ok(!esm.includes(`// ${part}`), `client.js holds ${part}`);
  const browser = readFileSync(built.browserBundle, "utf8");
  for (const name of ["TokenClaims", "RoomSettings", "ClientFrame", "LatestDocument", "UploadSlot"]) assert.ok(!new RegExp(`var ${name}\\b`).test(esm), `client.js keeps the unused schema ${name}`);
  for (const text of Object.values(ERROR_TEXTS)) assert.ok(!browser.includes(text), `the browser bundle carries the error text "${text}"`);
  // The server still sends every text: an error frame without words of its own gets the table's.
  assert.equal(errorFrame("bad_frame").message, ERROR_TEXTS.bad_frame);
  // The client's words: a frame's own message, else (an error it makes itself of a server code) the code.
  assert.equal(KaiwaError.fromFrame(errorFrame("slow_mode")).message, ERROR_TEXTS.slow_mode);
  assert.equal(new KaiwaError("not_member").message, "not_member");
  assert.equal(new KaiwaError("closed").message, LOCAL_ERRORS.closed.text);
});

test("PROTOCOL R76: the browser bundle holds only WIRE_LIMITS of the limits, and neither zod's record kind nor its extend", () => {
  const browser = readFileSync(built.browserBundle, "utf8");
  // Minified, an object keeps its keys: a server-only number in the bundle would show by name.
  const serverOnly = Object.keys(LIMITS).filter((key) => !Object.hasOwn(WIRE_LIMITS, key));
  assert.ok(serverOnly.length > 40, `${serverOnly.length} numbers only servers read`);
  assert.deepEqual(serverOnly.filter((key) => browser.includes(`${key}:`)), []);
  assert.ok(browser.includes("maxHistoryLimit:"), "the wire's numbers are in the bundle (the check above can see keys)");
  // LIMITS is WIRE_LIMITS and the servers' numbers: server code reads every wire number through it unchanged.
  for (const [key, value] of Object.entries(WIRE_LIMITS)) assert.equal(LIMITS[key as keyof typeof LIMITS], value, key);
  // zod names each kind's constructor, and its extend has words of its own: neither is in the bundle.
  assert.ok(browser.includes('"$ZodObject"'), "the check can see zod's kinds by name");
  assert.ok(!browser.includes('"$ZodRecord"'), "the bundle holds zod's record kind");
  assert.ok(!browser.includes("Invalid input to extend"), "the bundle holds zod's extend");
});

test("PROTOCOL R76: the maps the schemas check without zod's record kind refuse what a record refused", () => {
  const frame = (reads: unknown) => ReceiptsFrame.safeParse({ type: "receipts", reads }).success;
  assert.equal(frame({}), true);
  assert.equal(frame({ alice: 3, "bob-2": 0 }), true);
  assert.deepEqual(ReceiptsFrame.parse({ type: "receipts", reads: { alice: 3, bob: 0 } }).reads, { alice: 3, bob: 0 });
  for (const bad of [{ alice: -1 }, { alice: 1.5 }, { alice: "3" }, { alice: null }, [3], null, "x", 3]) assert.equal(frame(bad), false, JSON.stringify(bad));
});

test("package.json exports kaiwa/client, its optional entries, kaiwa/react and kaiwa/protocol as ESM with declarations, all of which the build writes", () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { exports: Record<string, { types: string; default: string }>; files?: string[]; scripts: Record<string, string>; peerDependencies?: Record<string, string>; peerDependenciesMeta?: Record<string, { optional?: boolean }> };
  assert.deepEqual(Object.keys(pkg.exports).sort(), ["./client", "./client/files", "./client/poller", "./client/search", "./protocol", "./react"]);
  // kaiwa/react uses the app's own React (two copies break hooks); apps of kaiwa/client alone install none.
  assert.ok(pkg.peerDependencies?.react, "react is a peer dependency");
  assert.equal(pkg.peerDependenciesMeta?.react?.optional, true);
  // dist/ is gitignored, which npm pack would honour without `files`; prepack builds it first.
  assert.ok(pkg.files?.includes("dist"), "package.json files lists dist");
  assert.match(pkg.scripts.prepack ?? "", /npm run build/);
  for (const [name, target] of Object.entries(pkg.exports)) {
    for (const file of [target.types, target.default]) {
      assert.match(file, /^\.\/dist\//, `${name}: ${file}`);
      assert.ok(existsSync(join(outDir, file.slice("./dist/".length))), `${name}: the build wrote no ${file}`);
    }
  }
  // Declarations name siblings as .js (resolved to .d.ts by every TypeScript setup), never the sources' .ts.
  const index = readFileSync(join(outDir, "types/client/index.d.ts"), "utf8");
  assert.match(index, /from "\.\/room\.js"/);
  assert.doesNotMatch(index, /\.ts"/);
});

test("the ESM entries import their dependencies by name (an app's bundler shares them) and hold no Node-only import", () => {
  const allowed: Record<string, string[]> = {
    // lib0: the encoder y-protocols itself uses, for awareness frames (PROTOCOL R72).
    "client.js": ["zod/mini", "partysocket/ws", "nanoid", "lib0/encoding", "lib0/decoding"],
    "protocol.js": ["zod/mini", "lib0/encoding", "lib0/decoding"],
    // PROTOCOL R76, R77: the optional entries take the client's classes from kaiwa/client, never a copy of them.
    "client-files.js": ["zod/mini", "kaiwa/client"],
    "client-poller.js": ["zod/mini", "kaiwa/client"],
    "client-search.js": ["zod/mini", "kaiwa/client"],
    "react.js": ["react", "kaiwa/client"],
  };
  for (const [entry, deps] of Object.entries(allowed)) {
    const code = readFileSync(join(outDir, entry), "utf8");
    const specifiers = [...code.matchAll(/^import\s[^;]*?from\s+"([^"]+)"/gm)].map((m) => m[1]!);
    assert.ok(specifiers.length > 0, entry);
    for (const spec of specifiers) assert.ok(deps.includes(spec), `${entry} imports ${spec}`);
    if (entry !== "client.js") assert.doesNotMatch(code, /class KaiwaError|class KaiwaRoom|class Session\b/, `${entry} carries its own copy of the client`);
  }
  // A page without a bundler imports search's browser bundle beside the client's, which it takes the client from.
  const search = readFileSync(built.searchBrowserBundle, "utf8");
  assert.deepEqual([...search.matchAll(/import\s*[^;]*?from\s*"([^"]+)"/g)].map((m) => m[1]), ["./kaiwa-client.browser.js"]);
  assert.ok(readFileSync(built.browserBundle, "utf8").includes('"KaiwaError"'), "the check can see the client's KaiwaError");
  assert.ok(!search.includes('"KaiwaError"'), "the search bundle carries its own copy of KaiwaError");
});

test("an app imports kaiwa/client and kaiwa/protocol by name: tsc type-checks it against the declarations, Node runs it", () => {
  mkdirSync(appDir, { recursive: true });
  const app = [
    'import { KaiwaError, KaiwaRoom, type SearchPage } from "kaiwa/client";',
    'import { search } from "kaiwa/client/search";',
    'import { LIMITS, dmRoomId } from "kaiwa/protocol";',
    'import { sendFile } from "kaiwa/client/files";',
    'import { KaiwaLogPoller } from "kaiwa/client/poller";',
    'import { useInbox, usePresence, useRoom, useTyping } from "kaiwa/react";',
    'const page: SearchPage = { results: [], nextCursor: null };',
    'const room = new KaiwaRoom({ host: "127.0.0.1:1", room: "general", token: "t", autoConnect: false });',
    'const sent: Promise<{ seq: number }> = room.send("hi");',
    'sent.catch(() => undefined);',
    'room.close();',
    'const hooks = [useRoom, useInbox, usePresence, useTyping].map((hook) => typeof hook).join();',
    'console.log(JSON.stringify({ search: typeof search, error: new KaiwaError("bad_frame").retryable, max: LIMITS.maxTextChars, dm: dmRoomId("b", "a"), page: page.results.length, files: typeof sendFile, poller: new KaiwaLogPoller({ baseUrl: "http://x", room: "r" }).lastSeq, hooks }));',
  ].join("\n");
  writeFileSync(join(appDir, "app.mts"), app + "\n");
  const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022", "--lib", "es2022,dom", "--types", "node", join(appDir, "app.mts")], { cwd: ROOT, encoding: "utf8" });
  assert.equal(tsc.status, 0, `tsc on an app using kaiwa/client:\n${tsc.stdout}${tsc.stderr}`);
  writeFileSync(join(appDir, "app.mjs"), app.replace(/, type SearchPage/, "").replace(/: SearchPage/, "").replace(/: Promise<\{ seq: number \}>/, "") + "\n");
  const run = spawnSync(process.execPath, [join(appDir, "app.mjs")], { cwd: ROOT, encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), { search: "function", error: false, max: 4000, dm: "dm:a:b", page: 0, files: "function", poller: 0, hooks: "function,function,function,function" });
});
