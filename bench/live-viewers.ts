/**
 * One load-generator process of the `live` bench (bench/live.ts forks several): its share of the viewer
 * sockets, so no single process hits the open-file limit or saturates one event loop. Each viewer counts
 * gaps and duplicates by seq and records send-to-viewer latency from the send time the poster wrote into
 * each message (`t=<ms since the epoch>`, the same machine's clock in every process).
 *
 * Parent → child: `start` (viewers to open), `finish` (the last seq; wait for everyone, then report).
 * Child → parent: `ready` (joined), `done` (latency histogram, viewers behind, gaps, when bans arrived).
 */
import WebSocket from "ws";
import { Histogram } from "./lib/histogram.ts";
import { selfCpuMs } from "./lib/proc.ts";
import { backoffDelay } from "../party/protocol/backoff.ts";

export type ViewerSpec = { user: string; token: string; party: string; id: string; host: string; address: string };
export type StartMessage = { type: "start"; viewers: ViewerSpec[]; seqsPerSlot?: number };
export type FinishMessage = { type: "finish"; lastSeq: number };
export type ReadyMessage = { type: "ready"; joined: number; failed: number; errors: Record<string, number> };
export type DoneMessage = {
  type: "done";
  latency: ReturnType<Histogram["toJSON"]>;
  /** Latency of the messages of each slot of `seqsPerSlot` seqs (a second of posting), when asked for. */
  timeline: Array<ReturnType<Histogram["toJSON"]> | null>;
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
let seqsPerSlot = 0;
let frames = 0;
let joinedCpuMs = 0;
const viewers: Viewer[] = [];
const bannedAt: Record<string, number> = {};

const EVENTS = '{"type":"events","events":[';
const SEQ = '"seq":';
const SENT = '"text":"t=';

/**
 * An `events` frame, read without building objects: 20,000 viewers at 20 msgs/s are 400,000 event
 * deliveries a second, and parsing each into objects would make the load generator the bottleneck. The
 * bench's events carry one `"seq":<n>` each (their nested objects, the author, carry none), so each
 * event's seq and its sender's `t=` are found by position; every seq is still checked in order.
 */
function events(v: Viewer, frame: string): void {
  const at = now();
  frames++;
  for (let i = frame.indexOf(SEQ, EVENTS.length - 1); i >= 0; i = frame.indexOf(SEQ, i + SEQ.length)) {
    const seq = Number.parseInt(frame.slice(i + SEQ.length, i + SEQ.length + 16), 10);
    if (seq <= v.last) continue;
    if (seq !== v.last + 1) v.problems++;
    v.last = seq;
    const sent = frame.indexOf(SENT, i);
    const next = frame.indexOf(SEQ, i + SEQ.length);
    if (sent < 0 || (next >= 0 && sent > next)) continue;
    const ms = at - Number.parseFloat(frame.slice(sent + SENT.length, sent + SENT.length + 24));
    latency.record(ms);
    if (seqsPerSlot > 0) (timeline[Math.floor(seq / seqsPerSlot)] ??= new Histogram()).record(ms);
  }
}

/** One viewer: connects, follows redirects on the same host, counts gaps and duplicates by seq. */
function open(spec: ViewerSpec): Promise<Viewer> {
  return new Promise((resolve, reject) => {
    const v: Viewer = { ws: undefined, user: spec.user, last: -1, problems: 0 };
    const connect = (party: string, id: string) => {
      const ws = new WebSocket(`ws://${spec.host}/parties/${party}/${id}?token=${spec.token}&session=s-${spec.user}`, { localAddress: spec.address, perMessageDeflate: false });
      v.ws = ws;
      // Like the typed client (PROTOCOL R12, R80): a reader that never sends is closed as not reading.
      const keepalive = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send("ping"), 20_000);
      ws.on("close", () => clearInterval(keepalive));
      ws.on("message", (data, isBinary) => {
        if (isBinary) return; // awareness states (PROTOCOL R72): not what this bench measures
        const text = data.toString();
        if (text.startsWith(EVENTS)) return events(v, text);
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
