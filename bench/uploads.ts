/**
 * `npm run bench:uploads`: what files cost (PROTOCOL R30, R31), against a real `partykit dev` and the embedded
 * S3 server on this machine: the throughput of one presigned PUT of a 10 MB file, and the latency a send
 * with one attachment adds over a plain send (the room's HEAD + first-bytes read + sniff before deciding).
 * Figures are printed, never asserted.
 */
import { randomBytes } from "node:crypto";
import { DevServer } from "../tests/helpers/dev-server.ts";
import { TestObjectStore } from "../tests/helpers/object-store.ts";
import { rawSocket } from "../tests/helpers/raw-socket.ts";
import { png } from "../tests/helpers/files.ts";

const RUNS = Number(process.env.RUNS ?? 5);
const SENDS = Number(process.env.SENDS ?? 40);
const ROOM = "bench-files";

const store = new TestObjectStore();
const server = new DevServer({ vars: await store.start() });
await server.start();
try {
  const token = await server.token("alice");
  const slot = async (name: string, type: string, size: number) => {
    const answer = await server.fetchJson(`/parties/room/${ROOM}/uploads`, { method: "POST", token, headers: { "content-type": "application/json" }, body: JSON.stringify({ name, type, size }) });
    if (answer.status !== 201) throw new Error(JSON.stringify(answer.body));
    return answer.body as { id: string; url: string; headers: Record<string, string> };
  };

  // 1. A 10 MB file (a PDF header and random bytes), PUT straight to the store under its presigned URL.
  const big = Buffer.concat([Buffer.from("%PDF-1.4\n"), randomBytes(10 * 1024 * 1024 - 9)]);
  const mbps: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const s = await slot(`big-${i}.pdf`, "application/pdf", big.length);
    const started = performance.now();
    const put = await fetch(s.url, { method: "PUT", headers: s.headers, body: big });
    if (!put.ok) throw new Error(`PUT ${put.status}`);
    mbps.push(big.length / 1e6 / ((performance.now() - started) / 1000));
  }

  // 2. Ack latency, one command at a time: plain sends, then sends naming one (pre-uploaded) image.
  const socket = await rawSocket(server, ROOM, { token, session: "bench" });
  const welcome = await socket.next((f) => f.type === "welcome");
  let n = welcome.sessionLastN as number;
  const image = png(64, 48);
  const ids: string[] = [];
  for (let i = 0; i < SENDS; i++) {
    const s = await slot(`img-${i}.png`, "image/png", image.length);
    const put = await fetch(s.url, { method: "PUT", headers: s.headers, body: Buffer.from(image) });
    if (!put.ok) throw new Error(`PUT ${put.status}`);
    ids.push(s.id);
    await new Promise((resolve) => setTimeout(resolve, 1000)); // stay under the slot rate limit (PROTOCOL R30)
  }
  const timed = async (label: string, body: (i: number) => Record<string, unknown>) => {
    const ms: number[] = [];
    for (let i = 0; i < SENDS; i++) {
      const clientId = `${label}-${i}`;
      const from = socket.frames.length;
      const started = performance.now();
      socket.send({ ...body(i), clientId, n: ++n });
      const answer = await socket.next((f) => (f.type === "ack" && f.acks.some((a: any) => a.clientId === clientId)) || (f.type === "error" && f.ref === clientId), 10_000, from);
      if (answer.type !== "ack") throw new Error(JSON.stringify(answer));
      ms.push(performance.now() - started);
    }
    return ms.sort((a, b) => a - b);
  };
  const plain = await timed("plain", () => ({ type: "send", text: "hello" }));
  const withFile = await timed("file", (i) => ({ type: "send", text: "", attachments: [{ upload: ids[i] }] }));
  socket.ws.close();

  const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!.toFixed(1);
  mbps.sort((a, b) => a - b);
  console.log(`10 MB presigned PUT, ${RUNS} runs: median ${mbps[Math.floor(RUNS / 2)]!.toFixed(0)} MB/s (min ${mbps[0]!.toFixed(0)}, max ${mbps.at(-1)!.toFixed(0)})`);
  console.log(`send ack latency, ${SENDS} one at a time: plain p50 ${pct(plain, 0.5)} ms p90 ${pct(plain, 0.9)} ms; with one attachment p50 ${pct(withFile, 0.5)} ms p90 ${pct(withFile, 0.9)} ms`);
} finally {
  await server.stop();
  await store.stop();
}
