/**
 * How many messages per second one room accepts durably (issue: room actor; the full suite is its own issue).
 *
 *   npm run bench:room -- [--senders 20] [--seconds 10] [--window 256] [--hibernate]
 *
 * Starts a real `partykit dev`, opens `senders` sockets that each keep `window` sends in flight (or the smaller
 * window the room grants, PROTOCOL R84), plus one
 * observing socket. A message counts once its durable ack arrives (PROTOCOL I2). At the end the observer's log is
 * checked: seqs 1..N with no gap, every ack's seq delivered with its clientId, no duplicate.
 */
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { DevServer } from "../tests/helpers/dev-server.ts";

const { values } = parseArgs({
  options: { hibernate: { type: "boolean", default: false }, senders: { type: "string", default: "20" }, seconds: { type: "string", default: "10" }, window: { type: "string", default: "256" }, batch: { type: "boolean", default: false } },
});
const senders = Number(values.senders);
const seconds = Number(values.seconds);
const windowSize = Number(values.window);

const server = new DevServer({ vars: { KAIWA_HIBERNATE: values.hibernate ? "1" : "0" } });
await server.start();
const room = `bench-${Date.now()}`;
const url = async (user: string) => `ws://${server.host}/parties/room/${room}?session=${user}-s&token=${await server.token(user)}`;

function open(address: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(address);
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

const observed = new Map<number, string>();
const observer = await open(await url("observer"));
observer.on("message", (data, isBinary) => {
  if (isBinary) return; // awareness states (PROTOCOL R72): not what this bench measures
  const frame = JSON.parse(data.toString());
  if (frame.type === "events") for (const event of frame.events) observed.set(event.seq, `${event.author.id}/${event.clientId}`);
});

let acked = 0;
let running = true;
const ackedSeqs = new Map<string, number>();
const latencies: number[] = [];
await Promise.all(
  Array.from({ length: senders }, async (_, i) => {
    const user = `u${i}`;
    const ws = await open(await url(user));
    let n = 0;
    let granted = Infinity;
    const sentAt = new Map<string, number>();
    // --batch: commands made in one tick go out in one `batch` frame, as the client library sends them.
    let pending: string[] = [];
    const flush = () => {
      const frames = pending;
      pending = [];
      for (let i = 0; i < frames.length; i += 128) {
        const chunk = frames.slice(i, i + 128);
        ws.send(chunk.length === 1 ? chunk[0]! : `{"type":"batch","commands":[${chunk.join(",")}]}`);
      }
    };
    const sendOne = () => {
      n++;
      const clientId = `${user}-${n}`;
      sentAt.set(clientId, performance.now());
      const frame = JSON.stringify({ type: "send", clientId, n, text: `message ${n} from ${user}` });
      if (!values.batch) return ws.send(frame);
      if (pending.push(frame) === 1) queueMicrotask(flush);
    };
    ws.on("message", (data, isBinary) => {
      if (isBinary) return; // awareness states (PROTOCOL R72): not what this bench measures
      const text = data.toString();
      // Senders only need their acks; skipping the parse of broadcasts keeps the load generator off the critical path.
      if (text.startsWith('{"type":"events"')) return;
      const frame = JSON.parse(text);
      if (frame.type === "welcome" && typeof frame.window === "number") granted = frame.window; // PROTOCOL R84
      if (frame.type === "error") console.error("error frame", frame);
      if (frame.type !== "ack") return;
      for (const ack of frame.acks) {
        acked++;
        ackedSeqs.set(`${user}/${ack.clientId}`, ack.seq);
        latencies.push(performance.now() - sentAt.get(ack.clientId)!);
        sentAt.delete(ack.clientId);
        if (running) sendOne();
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 200)); // let welcome arrive
    // The plan's window, or the smaller one the room granted, as kaiwa's client keeps to it.
    for (let k = 0; k < Math.min(windowSize, granted); k++) sendOne();
  }),
);

const start = performance.now();
const startAcked = acked;
const perSecond: number[] = [];
for (let s = 0; s < seconds; s++) {
  const before = acked;
  await new Promise((resolve) => setTimeout(resolve, 1000));
  perSecond.push(acked - before);
}
running = false;
const elapsed = (performance.now() - start) / 1000;
const rate = (acked - startAcked) / elapsed;
await new Promise((resolve) => setTimeout(resolve, 1500)); // drain in-flight acks and broadcasts

let lastSeq = 0;
for (const seq of ackedSeqs.values()) lastSeq = Math.max(lastSeq, seq);
let gaps = 0;
for (let seq = 1; seq <= lastSeq; seq++) if (!observed.has(seq)) gaps++;
let mismatched = 0;
for (const [key, seq] of ackedSeqs) if (observed.get(seq) !== key) mismatched++;
const uniqueKeys = new Set(observed.values()).size;
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!.toFixed(1);
const stats = await server.fetchJson(`/parties/room/${room}/stats`, { token: await server.token("op", { operator: true }) });

console.log(`room throughput: ${senders} senders x ${windowSize} in flight, ${seconds}s, 1 observer, hibernation ${values.hibernate ? "on" : "off"}`);
console.log(`  accepted durably: ${rate.toFixed(0)} msgs/s (per second: ${perSecond.join(", ")})`);
console.log(`  send->ack latency ms: p50 ${pct(50)}  p95 ${pct(95)}  p99 ${pct(99)}`);
console.log(`  writes: ${stats.body.writes.flushes} flushes, ${stats.body.writes.puts} puts, ${(stats.body.writes.batchedItems / stats.body.writes.flushes).toFixed(1)} commands per flush`);
console.log(`  check: lastSeq ${lastSeq}, observed ${observed.size}, gaps ${gaps}, ack/deliver mismatches ${mismatched}, duplicate clientIds ${observed.size - uniqueKeys}`);
await server.stop();
if (gaps || mismatched || observed.size !== uniqueKeys) {
  console.error("FAIL: lost, duplicated or misordered messages");
  process.exit(1);
}
process.exit(0);
