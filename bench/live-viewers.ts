/**
 * One load-generator process of the `live` bench (bench/live.ts forks several): its share of the viewer
 * sockets, so no single process hits the open-file limit or saturates one event loop. Each viewer counts
 * gaps and duplicates by seq and records send-to-viewer latency from the send time the poster wrote into
 * each message (`t=<ms since the epoch>`, the same machine's clock in every process). bench/live-viewers.c is
 * the same viewer in C (the default generator, lighter on a box shared with the servers); both answer the
 * same messages, and tests/unit/live-viewers-c.test.ts holds the C one to these checks.
 *
 * Parent → child: `start` (viewers to open), `finish` (the last seq; wait for everyone, then report).
 * Child → parent: `ready` (joined), `done` (latency histogram, viewers behind, gaps, when bans arrived).
 */
import WebSocket from "ws";
import { Histogram } from "./lib/histogram.ts";
import { selfCpuMs } from "./lib/proc.ts";
import { backoffDelay } from "../party/protocol/backoff.ts";
import { isEventsFrame, parsedOnce } from "./lib/events-reader.ts";

export type ViewerSpec = { user: string; token: string; party: string; id: string; host: string; address: string };
export type StartMessage = { type: "start"; viewers: ViewerSpec[]; seqsPerSlot?: number };
export type FinishMessage = { type: "finish"; lastSeq: number };
export type ReadyMessage = { type: "ready"; joined: number; failed: number; errors: Record<string, number> };
export type DoneMessage = {
  type: "done";
  latency: ReturnType<Histogram["toJSON"]>;
  /** Latency of the messages of each slot of `seqsPerSlot` seqs (a second of posting), when asked for. */
  timeline: Array<ReturnType<Histogram["toJSON"]> | null>;
  /** The same slots, timed from the room's commit. */
  afterCommit: Array<ReturnType<Histogram["toJSON"]> | null>;
  behind: number;
  problems: number;
  bannedAt: Record<string, number>;
  cpuMs: number;
  /** CPU used after every viewer of this process joined: what receiving the stream cost. */
  postingCpuMs: number;
  /** `events` frames this process's viewers received (the relays' gathering shows in frames per viewer). */
  frames: number;
};

type Viewer = { ws: WebSocket | undefined; user: string; last: number; problems: number };

const now = () => performance.timeOrigin + performance.now();
const latency = new Histogram();
const timeline: Histogram[] = [];
/** The same, from the room's commit (the event's `ts`) to the viewer: the relays' and the network's part. */
const afterCommit: Histogram[] = [];
let seqsPerSlot = 0;
let frames = 0;
let joinedCpuMs = 0;
const viewers: Viewer[] = [];
const bannedAt: Record<string, number> = {};

/** A viewer's copy of an `events` frame: every seq checked in order, every message's latency recorded. */
function events(v: Viewer, bytes: Buffer): void {
  const at = now();
  frames++;
  const { seqs, sent, committed } = parsedOnce(bytes);
  for (let k = 0; k < seqs.length; k++) {
    const seq = seqs[k]!;
    if (seq <= v.last) continue;
    if (seq !== v.last + 1) v.problems++;
    v.last = seq;
    const ms = at - sent[k]!;
    if (Number.isNaN(ms)) continue;
    latency.record(ms);
    if (seqsPerSlot === 0) continue;
    const slot = Math.floor(seq / seqsPerSlot);
    (timeline[slot] ??= new Histogram()).record(ms);
    const fromCommit = at - committed[k]!;
    if (!Number.isNaN(fromCommit)) (afterCommit[slot] ??= new Histogram()).record(fromCommit);
  }
}

/** One viewer: connects, follows redirects on the same host, counts gaps and duplicates by seq. */
function open(spec: ViewerSpec): Promise<Viewer> {
  return new Promise((resolve, reject) => {
    const v: Viewer = { ws: undefined, user: spec.user, last: -1, problems: 0 };
    const connect = (party: string, id: string) => {
      const ws = new WebSocket(`ws://${spec.host}/parties/${party}/${id}?token=${spec.token}&session=s-${spec.user}`, { localAddress: spec.address, perMessageDeflate: false });
      v.ws = ws;
      // As the typed client's keepalive does for a reader in a busy stream (client/heartbeat.ts, PROTOCOL R12):
      // a ping once it has sent nothing for 1.5 × 20 s, looked at every 10 s. A reader that never sends is
      // closed as not reading (PROTOCOL R80).
      let lastSent = Date.now();
      const keepalive = setInterval(() => {
        if (ws.readyState !== WebSocket.OPEN || Date.now() - lastSent < 30_000) return;
        ws.send("ping");
        lastSent = Date.now();
      }, 10_000);
      ws.on("close", (code, reason) => {
        clearInterval(keepalive);
        // Closed before its welcome (refused, or the server gave up on it): a failed join, retried, never a
        // run that waits forever. A socket left for a redirect is no longer `v.ws` by the time it closes.
        if (v.last < 0 && v.ws === ws) reject(new Error(`closed before the welcome: ${code} ${reason.toString()}`));
      });
      ws.on("message", (data, isBinary) => {
        if (isBinary) return; // awareness states (PROTOCOL R72): not what this bench measures
        const bytes = data as Buffer;
        if (isEventsFrame(bytes)) return events(v, bytes);
        const text = bytes.toString();
        if (text === "pong") return;
        const frame = JSON.parse(text);
        if (frame.type === "redirect") {
          ws.removeAllListeners("message");
          ws.removeAllListeners("error");
          ws.on("error", () => undefined); // the socket we leave
          ws.terminate();
          connect(frame.party, frame.id);
        } else if (frame.type === "welcome") {
          v.last = frame.lastSeq;
          resolve(v);
        } else if (frame.type === "error" && frame.code === "banned") {
          bannedAt[v.user] ??= now();
        }
      });
      ws.on("error", (error) => {
        if (v.last < 0) reject(error);
        else v.problems++; // a viewer's socket that fails mid-run is a delivery failure, counted
      });
    };
    connect(spec.party, spec.id);
  });
}

/**
 * A handshake reset while thousands connect at once (the listen backlog overflowed) is retried, as a client
 * would: after the client's own full-jitter backoff (protocol/backoff.ts), which spreads the retries instead of
 * sending them back in the same wave.
 */
async function openRetrying(spec: ViewerSpec): Promise<Viewer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await open(spec);
    } catch (error) {
      if (attempt >= 5) throw error;
      await new Promise((r) => setTimeout(r, backoffDelay(attempt - 1)));
    }
  }
}

async function start(specs: ViewerSpec[], slot: number): Promise<ReadyMessage> {
  seqsPerSlot = slot;
  let failed = 0;
  const errors: Record<string, number> = {};
  for (let i = 0; i < specs.length; i += 100) {
    const opened = await Promise.allSettled(specs.slice(i, i + 100).map(openRetrying));
    for (const result of opened) {
      if (result.status === "fulfilled") viewers.push(result.value);
      else {
        failed++;
        const why = String((result.reason as Error)?.message ?? result.reason);
        errors[why] = (errors[why] ?? 0) + 1;
      }
    }
  }
  joinedCpuMs = selfCpuMs();
  return { type: "ready", joined: viewers.length, failed, errors };
}

async function finish(lastSeq: number): Promise<DoneMessage> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && viewers.some((v) => v.last < lastSeq)) await new Promise((r) => setTimeout(r, 100));
  const done: DoneMessage = {
    type: "done",
    latency: latency.toJSON(),
    timeline: Array.from(timeline, (h) => h?.toJSON() ?? null),
    afterCommit: Array.from(afterCommit, (h) => h?.toJSON() ?? null),
    behind: viewers.filter((v) => v.last < lastSeq).length,
    problems: viewers.reduce((sum, v) => sum + v.problems, 0),
    bannedAt,
    cpuMs: selfCpuMs(),
    postingCpuMs: selfCpuMs() - joinedCpuMs,
    frames,
  };
  return done;
}

process.on("message", (message: StartMessage | FinishMessage | { type: "bans" } | { type: "exit" }) => {
  if (message.type === "start") void start(message.viewers, message.seqsPerSlot ?? 0).then((ready) => process.send!(ready));
  else if (message.type === "finish") void finish(message.lastSeq).then((done) => process.send!(done));
  else if (message.type === "bans") process.send!({ type: "bans", bannedAt });
  else if (message.type === "exit") {
    for (const v of viewers) v.ws?.terminate();
    process.exit(0);
  }
});
