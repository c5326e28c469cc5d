/**
 * What the client conformance script (tests/conformance/conformance.ts) needs around it, as an app would have:
 * - the built client (scripts/build-client.ts) and the script compiled to JavaScript, in a temp dir;
 * - an HTTP server playing the app's backend and host: `/token?user=` mints a fresh token per call (counted
 *   at `/tokens?user=`), `/cut` and `/heal` drive the proxy, and it serves a page that imports the bundles
 *   (the client's and search's, which imports the client's from beside it);
 * - a TCP proxy in front of partykit dev whose connections `/cut` drops (no close frame) and whose port
 *   refuses connections until `/heal`.
 * `runnerEnv()` is what a runtime's process gets: the runner (written here) imports the bundles and the
 * script by file URL and prints one `CONFORMANCE {json}` line.
 */
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createTcpServer, connect, type Socket } from "node:net";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { transform } from "esbuild";
import { buildClient } from "../../scripts/build-client.ts";
import type { ConformanceEnv, ConformanceResult } from "../conformance/conformance.ts";
import type { DevServer } from "./dev-server.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");

export type RunnerOutput = { runtime: string; version: string; globalWebSocket: boolean; result: ConformanceResult };

export class ConformanceHarness {
  readonly dir = mkdtempSync(join(tmpdir(), "kaiwa-conformance-"));
  harnessPort = 0;
  proxyPort = 0;
  private http?: Server;
  private proxy?: ReturnType<typeof createTcpServer>;
  private readonly pairs = new Set<Socket>();
  private refusing = false;
  private readonly tokenCalls = new Map<string, number>();

  constructor(private readonly server: DevServer) {}

  get bundlePath(): string {
    return join(this.dir, "kaiwa-client.browser.js");
  }

  async start(): Promise<void> {
    await buildClient({ outDir: this.dir, types: false });
    const script = await transform(readFileSync(join(ROOT, "tests/conformance/conformance.ts"), "utf8"), { loader: "ts", format: "esm", target: "es2022" });
    writeFileSync(join(this.dir, "conformance.mjs"), script.code);
    writeFileSync(join(this.dir, "runner.mjs"), RUNNER);
    writeFileSync(join(this.dir, "index.html"), PAGE);
    this.proxy = createTcpServer((client) => this.pipe(client));
    this.proxyPort = await listen(this.proxy);
    this.http = createHttpServer((request, response) => void this.answer(request.url ?? "/", response));
    this.harnessPort = await listen(this.http);
  }

  async stop(): Promise<void> {
    for (const socket of this.pairs) socket.destroy();
    await new Promise((done) => (this.proxy ? this.proxy.close(() => done(undefined)) : done(undefined)));
    this.http?.closeAllConnections();
    await new Promise((done) => (this.http ? this.http.close(() => done(undefined)) : done(undefined)));
    rmSync(this.dir, { recursive: true, force: true });
  }

  env(runId: string): ConformanceEnv {
    return { host: this.server.host, proxyHost: `127.0.0.1:${this.proxyPort}`, harness: `http://127.0.0.1:${this.harnessPort}`, runId };
  }

  /** The environment variable a runtime's runner reads: the env plus where the bundle, script and `ws` are. */
  runnerEnv(runId: string): Record<string, string> {
    const urls = {
      clientUrl: pathToFileURL(this.bundlePath).href,
      searchUrl: pathToFileURL(join(this.dir, "kaiwa-client-search.browser.js")).href,
      scriptUrl: pathToFileURL(join(this.dir, "conformance.mjs")).href,
      wsUrl: pathToFileURL(join(ROOT, "node_modules/ws/wrapper.mjs")).href,
    };
    return { KAIWA_CONFORMANCE: JSON.stringify({ ...this.env(runId), ...urls }) };
  }

  get runnerPath(): string {
    return join(this.dir, "runner.mjs");
  }

  pageUrl(runId: string): string {
    return `http://127.0.0.1:${this.harnessPort}/?env=${encodeURIComponent(JSON.stringify(this.env(runId)))}`;
  }

  private pipe(client: Socket): void {
    if (this.refusing) {
      client.destroy();
      return;
    }
    const upstream = connect(this.server.port, "127.0.0.1");
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      this.pairs.add(from);
      from.pipe(to);
      from.on("error", () => to.destroy());
      from.on("close", () => {
        this.pairs.delete(from);
        to.destroy();
      });
    }
  }

  private async answer(url: string, response: import("node:http").ServerResponse): Promise<void> {
    const { pathname, searchParams } = new URL(url, "http://harness");
    const send = (status: number, body: string | Buffer, type = "text/plain") => {
      response.writeHead(status, { "content-type": type, "cache-control": "no-store" });
      response.end(body);
    };
    if (pathname === "/token") {
      const user = searchParams.get("user") ?? "";
      this.tokenCalls.set(user, (this.tokenCalls.get(user) ?? 0) + 1);
      return send(200, await this.server.token(user, { name: user }));
    }
    if (pathname === "/tokens") return send(200, String(this.tokenCalls.get(searchParams.get("user") ?? "") ?? 0));
    if (pathname === "/cut") {
      this.refusing = true;
      for (const socket of this.pairs) socket.destroy();
      return send(200, "cut");
    }
    if (pathname === "/heal") {
      this.refusing = false;
      return send(200, "healed");
    }
    const files: Record<string, [string, string]> = {
      "/": ["index.html", "text/html"],
      "/kaiwa-client.browser.js": ["kaiwa-client.browser.js", "text/javascript"],
      "/kaiwa-client-search.browser.js": ["kaiwa-client-search.browser.js", "text/javascript"],
      "/conformance.mjs": ["conformance.mjs", "text/javascript"],
    };
    const file = files[pathname];
    if (file) return send(200, readFileSync(join(this.dir, file[0])), file[1]);
    send(404, "not found");
  }
}

/** The last `CONFORMANCE {json}` line of a runtime's output. */
export function parseRunnerOutput(stdout: string): RunnerOutput | undefined {
  const line = stdout.split("\n").reverse().find((l) => l.startsWith("CONFORMANCE "));
  return line ? (JSON.parse(line.slice("CONFORMANCE ".length)) as RunnerOutput) : undefined;
}

function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  return new Promise((done, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      done(typeof address === "object" && address ? address.port : 0);
    });
  });
}

/** Plain JavaScript that Node, Deno and Bun all run as it is. */
const RUNNER = `
const deno = globalThis.Deno;
const env = JSON.parse(deno ? deno.env.get("KAIWA_CONFORMANCE") : process.env.KAIWA_CONFORMANCE);
// kaiwa/client and kaiwa/client/search, as an app imports both.
const kaiwa = { ...(await import(env.clientUrl)), ...(await import(env.searchUrl)) };
const { runConformance } = await import(env.scriptUrl);
const globalWebSocket = typeof globalThis.WebSocket === "function";
// Node 20 alone has no global WebSocket: there, as the README shows, the app passes the ws package's class.
const WebSocket = globalWebSocket ? undefined : (await import(env.wsUrl)).default;
const runtime = deno ? "deno" : globalThis.Bun ? "bun" : "node";
const version = deno ? deno.version.deno : globalThis.Bun ? globalThis.Bun.version : process.version;
const result = await runConformance(kaiwa, { ...env, ...(WebSocket ? { WebSocket } : {}) });
console.log("CONFORMANCE " + JSON.stringify({ runtime, version, globalWebSocket, result }));
(deno ? deno.exit : process.exit)(result.ok ? 0 : 1);
`;

/** The browser's page: imports the built bundles as an app without a bundler would. */
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>kaiwa client conformance</title>
<pre id="out">running…</pre>
<script type="module">
import * as client from "/kaiwa-client.browser.js";
import { search } from "/kaiwa-client-search.browser.js";
import { runConformance } from "/conformance.mjs";
const env = JSON.parse(new URLSearchParams(location.search).get("env"));
window.conformance = runConformance({ ...client, search }, env).then((result) => {
  document.getElementById("out").textContent = JSON.stringify(result, null, 2);
  return { runtime: "chromium", version: navigator.userAgent, globalWebSocket: typeof WebSocket === "function", result };
});
</script>
`;
