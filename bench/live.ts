/**
 * The `live` bench (PROTOCOL R50-R55): N viewer sockets on one live stream, spread over several 127.0.0.x
 * source addresses and several load-generator processes (bench/live-viewers.c by default, or the same viewers
 * in Node, bench/live-viewers.ts, with `--generator node`); an operator posts at
 * 20 msgs/s on the room. Reported for the sharded room and for the same viewers on one room without shards,
 * in the same run: every viewer gapless, p50/p99 send-to-viewer, the time for a ban to reach every shard
 * (sharded only), workerd RSS per viewer socket, and the relays' own per-viewer state.
 *
 * Sharded, the relays run by default in a `partykit dev` process of their own that subscribes to the room
 * process over the network (KAIWA_RELAY_UPSTREAM, PROTOCOL R55), as a deployment scales relays; viewers
 * connect to their shard there. `--relay-process 0` keeps them in the room's process (viewers follow the
 * room's redirect). One process holds at most `ulimit -Hn` sockets, so a one-room run that cannot fit is
 * reported as not run rather than attempted.
 *
 *   npm run bench:live -- --viewers 2000 --shards 4 --seconds 10
 *   npm run bench:live -- --viewers 20000 --shards 8 --seconds 20 --modes sharded --coalesce 500
 *                                      (the issue's target, on a quiet machine)
 */
import { parseArgs } from "node:util";
import { fork, execSync } from "node:child_process";
import { join } from "node:path";
import { availableParallelism } from "node:os";
import WebSocket from "ws";
import { DevServer, sleep, waitFor } from "../tests/helpers/dev-server.ts";
import { groupUsage } from "./lib/proc.ts";
import { Histogram } from "./lib/histogram.ts";
import { shardOf, relayId } from "../party/protocol/index.ts";
import type { DoneMessage, ReadyMessage, ViewerSpec } from "./live-viewers.ts";
import { ask, buildCViewers, CViewers, type GeneratorMessage, type GeneratorProcess } from "./lib/c-viewers.ts";
import { detachDevtools } from "./lib/devtools.ts";
import { DEV_LOG_CAP } from "./targets/kaiwa.ts";

const { values } = parseArgs({
  options: {
    viewers: { type: "string", default: "2000" },
    shards: { type: "string", default: "4" },
    seconds: { type: "string", default: "10" },
    rate: { type: "string", default: "20" },
    addresses: { type: "string", default: "8" },
    /** Load-generator processes; default one per 10,000 viewers with the C generator, per 4,000 with Node's (at least 2). */
    workers: { type: "string" },
    /**
     * `partykit dev` processes for the relays (shard k in process k mod P); 0: relays in the room's process.
     * Default: as many as keep each under the open-file limit, and at least one per core (up to the shard
     * count): `partykit dev` runs every actor of a process on one thread (10,000 viewers, 600 ms window: p99
     * 1,461 ms in one relay process, 1,243 ms in two; bench/RESULTS.md).
     */
    "relay-processes": { type: "string" },
    /** KAIWA_RELAY_COALESCE_MS for the relays (PROTOCOL R54); default: the configured default. */
    coalesce: { type: "string" },
    /** Which modes to run: both (default), sharded, flat. */
    modes: { type: "string", default: "both" },
    /** Extra server variables, KEY=VALUE, repeatable (e.g. --var KAIWA_RELAY_HIBERNATE=0 to compare). */
    var: { type: "string", multiple: true, default: [] },
    /**
     * The load generator: `c` (bench/live-viewers.c, compiled on first use) or `node` (bench/live-viewers.ts).
     * Both check the same things; the C one costs a third to a half of the CPU per frame received, which on a
     * 2-core box is CPU the servers it measures get back (bench/RESULTS.md).
     */
    generator: { type: "string", default: "c" },
    /** Print p50/p99 for the messages of each second of posting: a backlog that grows shows as a rising line. */
    timeline: { type: "boolean", default: false },
  },
});
const VIEWERS = Number(values.viewers);
const SHARDS = Number(values.shards);
const SECONDS = Number(values.seconds);
const RATE = Number(values.rate);
const ADDRESSES = Number(values.addresses);
/** The C generator holds 10,000 viewers in a process with CPU to spare; Node's event loop, about 4,000. */
const WORKERS = Number(values.workers ?? Math.max(2, Math.ceil(VIEWERS / (values.generator === "c" ? 10_000 : 4000))));
/** Descriptors one process may hold; workerd needs some beyond its sockets (files, its own pipes). */
const FD_LIMIT = Number(execSync("bash -c 'ulimit -Hn'").toString().trim());
const FD_SPARE = 500;
const RELAY_PROCESSES = Number(values["relay-processes"] ?? Math.max(1, Math.ceil(VIEWERS / (FD_LIMIT - FD_SPARE)), Math.min(SHARDS, availableParallelism())));

const wall = () => performance.timeOrigin + performance.now();

/** The load generators: forked once per mode, each with its share of the viewers. */
class Workers {
  readonly children: GeneratorProcess[] = [];
  constructor(count: number) {
    const binary = values.generator === "c" ? buildCViewers() : undefined;
    for (let i = 0; i < count; i++) this.children.push(binary ? new CViewers(binary) : fork(join(import.meta.dirname, "live-viewers.ts"), [], { execArgv: ["--import", "tsx"] }));
  }
  all<T>(messages: (i: number) => GeneratorMessage, type: string): Promise<T[]> {
    return Promise.all(this.children.map((child, i) => ask<T>(child, messages(i), type)));
  }
  exit(): void {
    for (const child of this.children) child.send({ type: "exit" } satisfies GeneratorMessage);
  }
}

/**
 * Waits (2 s at least, 60 s at most) until the servers used under a third of a core over the last second
 * (20,000 idle viewers' keepalive pings cost the relays about a fifth of a core).
 */
async function settle(cpuMs: () => number): Promise<number> {
  const started = performance.now();
  let before = cpuMs();
  for (let waited = 0; waited < 60_000; waited += 1000) {
    await sleep(1000);
    const now = cpuMs();
    if (waited >= 1000 && now - before < 333) break;
    before = now;
  }
  return performance.now() - started;
}

async function run(label: string, roomId: string, shards: number, room: DevServer, relays: DevServer[], ops: string) {
  const set = await room.fetchJson(`/parties/room/${roomId}/settings`, { method: "PATCH", token: ops, body: JSON.stringify({ shards }), headers: { "content-type": "application/json" } });
  if (set.status !== 200) throw new Error(JSON.stringify(set.body));
  const viewerHosts = relays.length > 0 ? relays : [room];
  /** The server holding shard k's viewers. */
  const hostOf = (shard: number) => viewerHosts[shard % viewerHosts.length]!;
  const rss = () => viewerHosts.reduce((sum, host) => sum + groupUsage(host.pid).rssBytes, 0);
  const rssBefore = rss();
  const specs: ViewerSpec[] = [];
  for (let i = 0; i < VIEWERS; i++) {
    const user = `${label}-v${i}`;
    const token = await room.token(user);
    const address = `127.0.0.${2 + (i % ADDRESSES)}`;
    // With relay processes, viewers go straight to their shard's process (its own redirect corrects a wrong guess).
    const shard = shards > 0 ? shardOf(user, shards) : 0;
    specs.push(relays.length > 0 && shards > 0 ? { user, token, party: "relay", id: relayId(roomId, shard), host: hostOf(shard).host, address } : { user, token, party: "room", id: roomId, host: room.host, address });
  }
  const workers = new Workers(WORKERS);
  try {
    const started = performance.now();
    const ready = await workers.all<ReadyMessage>((i) => ({ type: "start", viewers: specs.filter((_, j) => j % WORKERS === i), seqsPerSlot: values.timeline ? RATE : 0 }), "ready");
    const joinMs = performance.now() - started;
    const joined = ready.reduce((sum, r) => sum + r.joined, 0);
    if (joined < VIEWERS) throw new Error(`${label}: only ${joined} of ${VIEWERS} viewers joined: ${JSON.stringify(ready.map((r) => r.errors))}`);
    // Posting starts once the servers have settled after the joins (20,000 upgrades keep the relays busy for
    // a while after the last welcome): the stream is measured, not the tail of the join storm.
    const serverCpu = () => [room, ...relays].reduce((sum, host) => sum + groupUsage(host.pid).cpuMs, 0);
    const settleMs = await settle(serverCpu);
    const rssAfter = rss();
    // The poster: an operator on the room itself, 20 msgs/s; each message carries its send time.
    const poster = new WebSocket(`ws://${room.host}/parties/room/${roomId}?token=${ops}&session=poster-${label}`);
    poster.on("error", (error) => console.error(`${label}: the poster's socket failed`, error));
    await new Promise((resolve) => poster.once("message", resolve));
    let acked = 0;
    poster.on("message", (data, isBinary) => {
      if (isBinary) return; // awareness states (PROTOCOL R72): not what this bench measures
      const frame = JSON.parse(data.toString());
      if (frame.type === "ack") acked += frame.acks.length;
    });
    const cpuBefore = serverCpu();
    let n = 0;
    poster.on("close", (code, reason) => {
      if (acked < n) console.error(`${label}: the poster's socket closed with ${acked} of ${n} posts acked: ${code} ${reason.toString()}`);
    });
    const t0 = performance.now();
    while (n < SECONDS * RATE) {
      n++;
      poster.send(JSON.stringify({ type: "send", clientId: `${label}-m${n}`, n, text: `t=${wall()}` }));
      await sleep(Math.max(0, t0 + (n * 1000) / RATE - performance.now())); // on schedule, not drifting
    }
    await waitFor(() => acked >= n, 30_000, `${label}: every post acked`);
    const stats = (await room.fetchJson(`/parties/room/${roomId}/stats`, { token: ops })).body;
    const lastSeq = stats.lastSeq as number;
    const done = await workers.all<DoneMessage>(() => ({ type: "finish", lastSeq }), "done");
    const serverCpuMs = serverCpu() - cpuBefore;
    const latency = new Histogram();
    for (const d of done) latency.add(d.latency);
    let relayState = 0;
    let banMs: number | undefined;
    if (shards > 0) {
      const relayStats = await Promise.all(Array.from({ length: shards }, (_, k) => hostOf(k).fetchJson(`/parties/relay/${relayId(roomId, k)}/stats`, { token: ops })));
      relayState = Math.max(...relayStats.map((r) => r.body.stateBytesPerViewer ?? 0));
      // One banned viewer per shard: the time until every one of them got the typed frame.
      const targets = new Map<number, string>();
      for (const spec of specs) if (!targets.has(shardOf(spec.user, shards))) targets.set(shardOf(spec.user, shards), spec.user);
      const banAt = wall();
      await Promise.all([...targets.values()].map((user) => room.fetchJson(`/admin/rooms/${roomId}/moderate`, { method: "POST", token: ops, body: JSON.stringify({ user, action: "ban", durationMs: 60_000 }), headers: { "content-type": "application/json" } })));
      let bannedAt: Record<string, number> = {};
      await waitFor(
        async () => {
          const replies = await workers.all<{ bannedAt: Record<string, number> }>(() => ({ type: "bans" }), "bans");
          bannedAt = Object.assign({}, ...replies.map((r) => r.bannedAt));
          return [...targets.values()].every((user) => bannedAt[user] !== undefined);
        },
        30_000,
        "bans reached every shard",
      ).catch(() => undefined);
      banMs = Math.max(...[...targets.values()].map((user) => (bannedAt[user] !== undefined ? bannedAt[user]! - banAt : Infinity)));
    }
    poster.terminate();
    const summary = latency.summary();
    if (values.timeline) {
      const slots = Math.max(...done.map((d) => d.timeline.length));
      for (let s = 0; s < slots; s++) {
        const second = new Histogram();
        const committed = new Histogram();
        for (const d of done) if (d.timeline[s]) second.add(d.timeline[s]!);
        for (const d of done) if (d.afterCommit[s]) committed.add(d.afterCommit[s]!);
        const { p50, p99, count } = second.summary();
        const after = committed.summary();
        if (count > 0) console.log(`${label}: messages of second ${s}: p50 ${Math.round(p50)} ms, p99 ${Math.round(p99)} ms; from the commit: p50 ${Math.round(after.p50)} ms, p99 ${Math.round(after.p99)} ms`);
      }
    }
    return {
      label,
      shards,
      relayProcesses: relays.length,
      viewers: VIEWERS,
      loadProcesses: WORKERS,
      joinSeconds: Math.round(joinMs / 100) / 10,
      settleSeconds: Math.round(settleMs / 100) / 10,
      messages: n,
      lastSeq,
      gapsOrDuplicates: done.reduce((sum, d) => sum + d.problems, 0),
      viewersBehind: done.reduce((sum, d) => sum + d.behind, 0),
      deliveries: summary.count,
      /** `events` frames each viewer received on average: how far the relays gathered (PROTOCOL R54). */
      framesPerViewer: Math.round(done.reduce((sum, d) => sum + d.frames, 0) / VIEWERS),
      p50Ms: Math.round(summary.p50),
      p99Ms: Math.round(summary.p99),
      /** CPU seconds while posting and delivering: every workerd, and the load generator's processes (whole run). */
      serverCpuSeconds: Math.round(serverCpuMs / 100) / 10,
      loadCpuSeconds: Math.round(done.reduce((sum, d) => sum + d.cpuMs, 0) / 100) / 10,
      /** The load generator's CPU seconds after every viewer joined (posting, delivering, draining). */
      loadCpuPostingSeconds: Math.round(done.reduce((sum, d) => sum + d.postingCpuMs, 0) / 100) / 10,
      roomSockets: stats.live?.roomSockets,
      connectionsCounted: stats.connections,
      workerdRssPerViewerKB: Math.round((rssAfter - rssBefore) / VIEWERS / 1024),
      relayStateBytesPerViewer: relayState,
      banToEveryShardMs: banMs === undefined ? undefined : Math.round(banMs),
    };
  } finally {
    workers.exit();
  }
}

const results: Array<Record<string, unknown>> = [];
const modes = values.modes === "both" ? (["sharded", "flat"] as const) : ([values.modes] as Array<"sharded" | "flat">);
for (const mode of modes) {
  const shards = mode === "sharded" ? SHARDS : 0;
  const relayProcesses = mode === "sharded" ? Math.min(RELAY_PROCESSES, shards) : 0;
  if (Math.ceil(VIEWERS / Math.max(1, relayProcesses)) + FD_SPARE > FD_LIMIT) {
    results.push({ label: mode, shards, viewers: VIEWERS, notRun: `one process would hold ${Math.ceil(VIEWERS / Math.max(1, relayProcesses))} viewer sockets; its open-file limit is ${FD_LIMIT} (ulimit -Hn)` });
    continue;
  }
  // A fresh server (pair) per mode, so each one's RSS growth is its own viewers'.
  const coalesce: Record<string, string> = {
    ...(values.coalesce !== undefined ? { KAIWA_RELAY_COALESCE_MS: values.coalesce } : {}),
    ...Object.fromEntries(values.var.map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)])),
  };
  // As the main bench runs kaiwa (bench/targets/kaiwa.ts): partykit dev's DevTools session detached and its
  // per-request log capped, since on Cloudflare there is neither (bench/lib/devtools.ts, lib/dev-log-cap.mjs).
  const quiet = { testMode: true, nodeArgs: ["--import", DEV_LOG_CAP] };
  const room = new DevServer({ ...quiet, vars: coalesce });
  const relays: DevServer[] = [];
  try {
    await room.start();
    await detachDevtools(room.pid);
    for (let p = 0; p < relayProcesses; p++) {
      relays.push(new DevServer({ ...quiet, vars: { ...coalesce, KAIWA_RELAY_UPSTREAM: room.url } }));
      await relays[p]!.start();
      await detachDevtools(relays[p]!.pid);
    }
    results.push(await run(mode, `live:bench-${mode}`, shards, room, relays, await room.token("ops", { operator: true })));
  } finally {
    for (const relay of relays) await relay.stop();
    await room.stop();
  }
}
{
  console.log(`load average: ${execSync("cat /proc/loadavg").toString().trim()}`);
  console.table(results);
  console.log(JSON.stringify(results));
  const failed = results.some((r) => Number(r.gapsOrDuplicates ?? 0) > 0 || Number(r.viewersBehind ?? 0) > 0);
  process.exitCode = failed ? 1 : 0;
}
