/**
 * The installable client (`npm run build`, scripts/build-client.ts): it builds, package.json's `exports`
 * point at what it builds, and `kaiwa/client` bundled for a browser with its dependencies stays within
 * its size budget (minified and gzipped), with no Node-only import and none of classic zod.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { buildClient, type ClientBuild } from "../../scripts/build-client.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");
/** The budget for `kaiwa/client`: 25 KiB minified and gzipped (Socket.IO's client is about 14). */
export const CLIENT_BUDGET_GZIP_BYTES = 25 * 1024;

const outDir = mkdtempSync(join(tmpdir(), "kaiwa-build-"));
let built: ClientBuild;
before(async () => {
  built = await buildClient({ outDir });
  console.log(`kaiwa/client in a browser: ${built.minifiedBytes} bytes minified, ${built.gzippedBytes} gzipped (budget ${CLIENT_BUDGET_GZIP_BYTES})`);
});
after(() => rmSync(outDir, { recursive: true, force: true }));

test("kaiwa/client for a browser, dependencies included, is within 25 KiB minified and gzipped", () => {
  assert.ok(built.gzippedBytes > 5_000, `a ${built.gzippedBytes}-byte bundle cannot hold the client`);
  assert.ok(built.gzippedBytes <= CLIENT_BUDGET_GZIP_BYTES, `kaiwa/client is ${built.gzippedBytes} bytes gzipped; the budget is ${CLIENT_BUDGET_GZIP_BYTES}`);
});

test("the browser bundle holds no Node built-in and none of classic zod (whose chains keep all of zod)", () => {
  assert.deepEqual(built.inputs.filter((input) => input.startsWith("node:") || /(^|\/)(fs|net|tls|http|crypto|ws)(\/|$)/.test(input) && !input.includes("partysocket")), []);
  assert.deepEqual(built.inputs.filter((input) => input.includes("zod/v4/classic") || input.includes("zod/v4/locales")), []);
  assert.ok(built.inputs.some((input) => input.includes("zod/v4/mini")), "the client parses frames with zod/mini");
});

test("package.json exports kaiwa/client and kaiwa/protocol as ESM with declarations, all of which the build writes", () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { exports: Record<string, { types: string; default: string }> };
  assert.deepEqual(Object.keys(pkg.exports).sort(), ["./client", "./protocol"]);
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
  for (const entry of ["client.js", "protocol.js"]) {
    const code = readFileSync(join(outDir, entry), "utf8");
    const specifiers = [...code.matchAll(/^import\s[^;]*?from\s+"([^"]+)"/gm)].map((m) => m[1]!);
    assert.ok(specifiers.length > 0, entry);
    for (const spec of specifiers) assert.ok(["zod/mini", "partysocket", "nanoid"].includes(spec), `${entry} imports ${spec}`);
  }
});
