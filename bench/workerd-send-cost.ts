/**
 * The runtime's own cost of one WebSocket send, outside partykit and outside kaiwa: the `workerd` binary
 * partykit dev runs, serving a minimal Durable Object that accepts N sockets and, on request, sends K frames
 * to each in a plain loop. Reported: workerd's CPU per send. It is the floor under every fan-out figure of
 * the bench (a live relay's broadcast, a room's): bench/RESULTS.md, "where the latency goes".
 *
 *   node --import tsx bench/workerd-send-cost.ts [--sockets 2000] [--frames 20] [--bytes 200] [--hibernate]
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { freePort } from "../tests/helpers/free-port.ts";
import { groupUsage } from "./lib/proc.ts";

const { values } = parseArgs({
  options: {
    sockets: { type: "string", default: "2000" },
    frames: { type: "string", default: "20" },
    bytes: { type: "string", default: "200" },
    hibernate: { type: "boolean", default: false },
  },
});
const SOCKETS = Number(values.sockets);
const FRAMES = Number(values.frames);

const WORKER = `
export class Hub {
  constructor(state) { this.state = state; this.sockets = []; }
  async fetch(request) {
    const url = new URL(request.url);
    if (request.headers.get("upgrade") === "websocket") {
      const pair = new WebSocketPair();
      if (url.searchParams.get("hibernate") === "1") this.state.acceptWebSocket(pair[1]);
      else { pair[1].accept(); this.sockets.push(pair[1]); }
      return new Response(null, { status: 101, webSocket: pair[0] });
    }
    const frame = "x".repeat(Number(url.searchParams.get("bytes")));
    const all = [...this.sockets, ...this.state.getWebSockets()];
    for (let i = 0; i < Number(url.searchParams.get("frames")); i++) for (const ws of all) ws.send(frame);
    return new Response(String(all.length));
  }
  webSocketMessage() {}
}
export default { fetch: (request, env) => env.HUB.get(env.HUB.idFromName("one")).fetch(request) };
`;

const config = (port: number) => `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .hub) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const hub :Workerd.Worker = (
  modules = [ (name = "worker.js", esModule = embed "worker.js") ],
  compatibilityDate = "2024-07-01",
  durableObjectNamespaces = [ (className = "Hub", uniqueKey = "hub") ],
  durableObjectStorage = (inMemory = void),
  bindings = [ (name = "HUB", durableObjectNamespace = "Hub") ],
);
`;

const dir = mkdtempSync(join(tmpdir(), "workerd-send-"));
const port = await freePort();
writeFileSync(join(dir, "worker.js"), WORKER);
writeFileSync(join(dir, "config.capnp"), config(port));
const binary = join(import.meta.dirname, "..", "node_modules", "@cloudflare", "workerd-linux-64", "bin", "workerd");
// Its own process group, so groupUsage counts workerd alone.
const workerd = spawn(binary, ["serve", join(dir, "config.capnp")], { stdio: "ignore", detached: true });
try {
  for (let i = 0; ; i++) {
    if (await fetch(`http://127.0.0.1:${port}/?frames=0&bytes=0`).then(() => true, () => false)) break;
    if (i > 100) throw new Error("workerd did not start");
    await new Promise((r) => setTimeout(r, 100));
  }
  let received = 0;
  const sockets: WebSocket[] = [];
  for (let i = 0; i < SOCKETS; i += 200) {
    await Promise.all(
      Array.from({ length: Math.min(200, SOCKETS - i) }, (_, j) => new Promise<void>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/?hibernate=${values.hibernate ? 1 : 0}`, { perMessageDeflate: false, localAddress: `127.0.0.${2 + ((i + j) % 8)}` });
        ws.on("open", () => resolve());
        ws.on("error", reject);
        ws.on("message", () => received++);
        sockets.push(ws);
      })),
    );
  }
  await new Promise((r) => setTimeout(r, 1000));
  const before = groupUsage(workerd.pid!).cpuMs;
  const started = performance.now();
  await fetch(`http://127.0.0.1:${port}/?frames=${FRAMES}&bytes=${values.bytes}`);
  while (received < SOCKETS * FRAMES) await new Promise((r) => setTimeout(r, 5));
  const cpu = groupUsage(workerd.pid!).cpuMs - before;
  const sends = SOCKETS * FRAMES;
  console.log(JSON.stringify({ sockets: SOCKETS, frames: FRAMES, bytes: Number(values.bytes), hibernate: values.hibernate, sends, wallMs: Math.round(performance.now() - started), workerdCpuMs: cpu, microsecondsPerSend: Math.round((cpu * 10_000) / sends) / 10 }));
  for (const ws of sockets) ws.terminate();
} finally {
  workerd.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
}
