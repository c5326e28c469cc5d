/**
 * The `live` bench (PROTOCOL R50-R53): N viewer sockets on one live stream, spread over several 127.0.0.x
 * source addresses, following the room's redirect to their relay shard; an operator posts at 20 msgs/s.
 * Reported for the sharded room and for the same viewers on one room without shards, in the same run:
 * every viewer gapless, p50/p99 send-to-viewer, the time for a ban to reach every shard (sharded only),
 * workerd RSS per viewer socket, and the relays' own per-viewer state (their connection state, serialised).
 *
 *   npm run bench:live -- --viewers 2000 --shards 4 --seconds 10
 *   npm run bench:live -- --viewers 20000 --shards 8 --seconds 20   (the lead's run, on a quiet machine)
 */
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { DevServer, sleep, waitFor } from "../tests/helpers/dev-server.ts";
import { groupUsage } from "./lib/proc.ts";
import { Histogram } from "./lib/histogram.ts";
import { shardOf, relayId } from "../party/protocol/index.ts";

const { values } = parseArgs({
  options: {
    viewers: { type: "string", default: "2000" },
    shards: { type: "string", default: "4" },
    seconds: { type: "string", default: "10" },
    rate: { type: "string", default: "20" },
    addresses: { type: "string", default: "8" },
  },
});
const VIEWERS = Number(values.viewers);
const SHARDS = Number(values.shards);
const SECONDS = Number(values.seconds);
const RATE = Number(values.rate);
const ADDRESSES = Number(values.addresses);

type Viewer = { ws: WebSocket; user: string; last: number; problems: number; banned: number };

/** A fresh server per mode, so each one's RSS growth is its own viewers'. */
let server = new DevServer({ testMode: true });

/** One viewer: connects to the room, follows a redirect, counts gaps and duplicates by seq. */
function viewer(roomId: string, user: string, token: string, address: string, sentAt: Map<string, number>, latency: Histogram): Promise<Viewer> {
  return new Promise((resolve, reject) => {
    const v: Viewer = { ws: undefined as unknown as WebSocket, user, last: -1, problems: 0, banned: 0 };
    const open = (party: string, id: string) => {
      const ws = new WebSocket(`ws://${server.host}/parties/${party}/${id}?token=${token}&session=s-${user}`, { localAddress: address, perMessageDeflate: false });
      v.ws = ws;
      // Like the typed client (PROTOCOL R12, R80): a reader that never sends is closed as not reading.
      const keepalive = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send("ping"), 20_000);
      ws.on("close", () => clearInterval(keepalive));
      ws.on("message", (data) => {
        const text = data.toString();
        if (text === "pong") return;
        const frame = JSON.parse(text);
        if (frame.type === "redirect") {
          ws.removeAllListeners("message");
          ws.removeAllListeners("error");
          ws.on("error", () => undefined); // the socket we leave
          ws.terminate();
          return open(frame.party, frame.id);
        }
        if (frame.type === "welcome") {
          v.last = frame.lastSeq;
          return resolve(v);
        }
        if (frame.type === "error" && frame.code === "banned") v.banned = performance.now();
        if (frame.type !== "events") return;
        const now = performance.now();
        for (const event of frame.events) {
          if (event.seq <= v.last) continue;
          if (event.seq !== v.last + 1) v.problems++;
          v.last = event.seq;
          const at = sentAt.get(event.clientId);
          if (at !== undefined) latency.record(now - at);
        }
      });
      ws.on("error", (error) => {
        if (v.last < 0) reject(error);
        else v.problems++; // a viewer's socket that fails mid-run is a delivery failure, counted
      });
    };
    open("room", roomId);
  });
}

async function run(label: string, roomId: string, shards: number, ops: string) {
  const set = await server.fetchJson(`/parties/room/${roomId}/settings`, { method: "PATCH", token: ops, body: JSON.stringify({ shards }), headers: { "content-type": "application/json" } });
  if (set.status !== 200) throw new Error(JSON.stringify(set.body));
  const sentAt = new Map<string, number>();
  const latency = new Histogram();
  const rssBefore = groupUsage(server.pid).rssBytes;
  const viewers: Viewer[] = [];
  const started = performance.now();
  for (let i = 0; i < VIEWERS; i += 200) {
    viewers.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(200, VIEWERS - i) }, async (_, j) => {
          const user = `${label}-v${i + j}`;
          return viewer(roomId, user, await server.token(user), `127.0.0.${2 + ((i + j) % ADDRESSES)}`, sentAt, latency);
        }),
      )),
    );
  }
  const joinMs = performance.now() - started;
  await sleep(2000);
  const rssAfter = groupUsage(server.pid).rssBytes;
  // The poster: an operator on the room itself, 20 msgs/s.
  const poster = new WebSocket(`ws://${server.host}/parties/room/${roomId}?token=${ops}&session=poster-${label}`);
  poster.on("error", (error) => console.error(`${label}: the poster's socket failed`, error));
  await new Promise((resolve) => poster.once("message", resolve));
  let acked = 0;
  poster.on("message", (data) => {
    const frame = JSON.parse(data.toString());
    if (frame.type === "ack") acked += frame.acks.length;
  });
  let n = 0;
  const t0 = performance.now();
  while (n < SECONDS * RATE) {
    const clientId = `${label}-m${++n}`;
    sentAt.set(clientId, performance.now());
    poster.send(JSON.stringify({ type: "send", clientId, n, text: `message ${n}` }));
    await sleep(Math.max(0, t0 + (n * 1000) / RATE - performance.now())); // on schedule, not drifting
  }
  await waitFor(() => acked >= n, 30_000, `${label}: every post acked`);
  const stats = (await server.fetchJson(`/parties/room/${roomId}/stats`, { token: ops })).body;
  const lastSeq = stats.lastSeq as number;
  await waitFor(() => viewers.every((v) => v.last >= lastSeq), 60_000, `${label}: every viewer at ${lastSeq}`).catch(() => undefined);
  const behind = viewers.filter((v) => v.last < lastSeq).length;
  const problems = viewers.reduce((sum, v) => sum + v.problems, 0);
  let relayState = 0;
  let banMs: number | undefined;
  if (shards > 0) {
    const relays = await Promise.all(Array.from({ length: shards }, (_, k) => server.fetchJson(`/parties/relay/${relayId(roomId, k)}/stats`, { token: ops })));
    relayState = Math.max(...relays.map((r) => r.body.stateBytesPerViewer ?? 0));
    // One banned viewer per shard: the time until every one of them got the typed frame.
    const targets = new Map<number, Viewer>();
    for (const v of viewers) if (!targets.has(shardOf(v.user, shards))) targets.set(shardOf(v.user, shards), v);
    const t0 = performance.now();
    await Promise.all([...targets.values()].map((v) => server.fetchJson(`/admin/rooms/${roomId}/moderate`, { method: "POST", token: ops, body: JSON.stringify({ user: v.user, action: "ban", durationMs: 60_000 }), headers: { "content-type": "application/json" } })));
    await waitFor(() => [...targets.values()].every((v) => v.banned > 0), 30_000, "bans reached every shard").catch(() => undefined);
    banMs = Math.max(...[...targets.values()].map((v) => (v.banned > 0 ? v.banned - t0 : Infinity)));
  }
  const summary = latency.summary();
  for (const v of viewers) v.ws.terminate();
  poster.terminate();
  return {
    label,
    shards,
    viewers: VIEWERS,
    joinSeconds: Math.round(joinMs / 100) / 10,
    messages: n,
    lastSeq,
    gapsOrDuplicates: problems,
    viewersBehind: behind,
    deliveries: summary.count,
    p50Ms: Math.round(summary.p50),
    p99Ms: Math.round(summary.p99),
    roomSockets: stats.live?.roomSockets,
    connectionsCounted: stats.connections,
    workerdRssPerViewerKB: Math.round((rssAfter - rssBefore) / VIEWERS / 1024),
    relayStateBytesPerViewer: relayState,
    banToEveryShardMs: banMs === undefined ? undefined : Math.round(banMs),
  };
}

const results = [];
for (const [label, shards] of [["sharded", SHARDS], ["flat", 0]] as const) {
  server = new DevServer({ testMode: true });
  await server.start();
  try {
    results.push(await run(label, `live:bench-${label}`, shards, await server.token("ops", { operator: true })));
  } finally {
    await server.stop();
  }
}
{
  console.table(results);
  console.log(JSON.stringify(results));
  const failed = results.some((r) => r.gapsOrDuplicates > 0 || r.viewersBehind > 0);
  process.exitCode = failed ? 1 : 0;
}
