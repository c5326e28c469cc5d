/**
 * Pollers behind a real cache (PROTOCOL R41-R42): N viewers poll a public room's `latest` once per second
 * each, through Debian's nginx with `proxy_cache` in front of `partykit dev`, while the room takes a
 * message every 200 ms. Reports the requests sent and their rate, latency, statuses, and how many reached
 * the origin (nginx's access log: `$upstream_addr` set) against those the cache answered.
 *
 *   node --import tsx bench/http-poll.ts [pollers=10000] [seconds=10]
 *
 * Light pollers (If-None-Match, the body read but not parsed) over a keep-alive pool of 512 connections,
 * so the generator, not the sockets, is the limit on a small box; each reads the sealed pages `latest`
 * names once, on arrival, like a viewer loading the chat's recent history.
 */
import http from "node:http";
import { cpuUsage } from "node:process";
import { DevServer, sleep } from "../tests/helpers/dev-server.ts";
import { NginxCache, nginxMissing } from "../tests/helpers/nginx.ts";
import { Histogram } from "./lib/histogram.ts";

const POLLERS = Number(process.argv[2] ?? 10_000);
const SECONDS = Number(process.argv[3] ?? 10);
const ROOM = "bench-poll";

if (nginxMissing()) process.exit(1);
const server = new DevServer();
await server.start();
const nginx = new NginxCache(server.port);
await nginx.start();
const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });

function get(path: string, etag?: string): Promise<{ status: number; etag: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: "127.0.0.1", port: nginx.port, path, agent, headers: etag ? { "if-none-match": etag } : {} }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, etag: response.headers.etag, body }));
    });
    request.on("error", reject);
  });
}

try {
  const operator = await server.token("ops", { operator: true });
  const patched = await server.fetchJson(`/parties/room/${ROOM}/settings`, { method: "PATCH", token: operator, body: JSON.stringify({ public: true, pollIntervalMs: 1000 }) });
  if (patched.status !== 200) throw new Error(`settings: ${JSON.stringify(patched.body)}`);
  const artist = await server.token("artist");
  const post = (i: number) => server.fetchJson(`/parties/room/${ROOM}/messages`, { method: "POST", token: artist, body: JSON.stringify({ clientId: `m${i}`, text: `message ${i}` }) });
  for (let i = 1; i <= 250; i++) await post(i);
  let posting = true;
  const trickle = (async () => {
    for (let i = 251; posting; i++) {
      await post(i).catch(() => undefined);
      await sleep(200);
    }
  })();

  const latency = new Histogram();
  const statuses = new Map<number, number>();
  const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);
  const pageUrls = new Map<string, string[]>();
  let failures = 0;
  const logStart = nginx.accessLog().length;
  const cpu0 = cpuUsage();
  const started = Date.now();
  await Promise.all(
    Array.from({ length: POLLERS }, async (_, index) => {
      let etag: string | undefined;
      let pagesRead = false;
      const phase = (index / POLLERS) * 1000;
      for (let round = 0; round < SECONDS; round++) {
        await sleep(Math.max(0, started + phase + round * 1000 - Date.now()));
        const sent = performance.now();
        try {
          const answer = await get(`/parties/room/${ROOM}/log/latest`, etag);
          latency.record(performance.now() - sent);
          count(answer.status);
          if (answer.status !== 200) continue;
          etag = answer.etag;
          if (!pageUrls.has(etag!)) pageUrls.set(etag!, JSON.parse(answer.body).pages.map((page: { url: string }) => page.url));
          if (pagesRead) continue;
          pagesRead = true;
          for (const url of pageUrls.get(etag!)!) count((await get(url)).status);
        } catch {
          failures++;
        }
      }
    }),
  );
  const elapsed = (Date.now() - started) / 1000;
  const cpu = cpuUsage(cpu0);
  posting = false;
  await trickle;
  await sleep(500); // nginx writes its access log as requests end
  const lines = nginx.accessLog().slice(logStart).filter((line) => line.uri.startsWith(`/parties/room/${ROOM}/log/`));
  const origin = lines.filter((line) => line.origin);
  const latestOrigin = origin.filter((line) => line.uri.endsWith("/latest")).length;
  const summary = latency.summary();
  console.log(
    [
      `pollers ${POLLERS}, ${SECONDS} polls each; ${lines.length} requests in ${elapsed.toFixed(1)} s (${(lines.length / elapsed).toFixed(0)}/s; planned ${POLLERS}/s); failures ${failures}`,
      `origin hits ${origin.length} (latest ${latestOrigin}: ${(latestOrigin / elapsed).toFixed(2)}/s; pages ${origin.length - latestOrigin}); answered by the cache ${((1 - origin.length / lines.length) * 100).toFixed(3)}%`,
      `latest latency p50 ${summary.p50} ms, p99 ${summary.p99} ms, max ${summary.max} ms; statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
      `generator CPU ${(((cpu.user + cpu.system) / 1000 / (elapsed * 1000)) * 100).toFixed(0)}% of one core`,
    ].join("\n"),
  );
} finally {
  agent.destroy();
  await nginx.stop();
  await server.stop();
}
