/**
 * The flooder (bench/scenarios/flood.ts): one raw socket that sends as fast as the server takes the
 * bytes, never waiting for an ack, until the server closes it or its time is up. It runs as its own
 * process (lib/flooder.ts forks it), as an attacker's machine would: its busy loop must not delay the
 * load generator's clock, timers and receipts.
 *
 * "As fast as the server takes the bytes": frames are written while the socket's own send buffer holds
 * under MAX_BUFFERED bytes (the kernel's buffers fill first), so the flood is paced by how fast the
 * server reads, not by this process's memory. Modes:
 *  - frames:  one valid `send` per frame (new clientId, next n);
 *  - batch:   128 valid `send`s per `batch` frame (PROTOCOL R17; kaiwa and the bare ws server only);
 *  - invalid: frames that parse as JSON but are no command (a `send` without clientId or n).
 *
 * Parent → child: { type: "start", ... } (connects, then answers { type: "ready" }), { type: "go" }.
 * Child → parent: { type: "ready" }, { type: "done", report }, or { type: "failed", error }.
 * Times in the report are ms since "go", on this process's clock.
 */
import WebSocket from "ws";
import { isEventsFrame } from "../targets/raw-ws.ts";

export type FloodMode = "frames" | "batch" | "invalid";

export type FloodStart = { type: "start"; url: string; protocol: "kaiwa" | "socketio"; mode: FloodMode; seconds: number; prefix: string };

export type FloodReport = {
  mode: FloodMode;
  framesSent: number;
  /** Valid commands written (0 for `invalid`). */
  commandsSent: number;
  bytesSent: number;
  /** Commands the server acked to the flooder before it stopped listening. */
  acked: number;
  /** Error frames the server sent, by code. */
  errors: Record<string, number>;
  /** The first `rate_limited` (kaiwa, PROTOCOL R18): when it arrived and what it said. */
  rateLimited?: { atMs: number; retryAfterMs: number; ref?: string };
  /** When the server's close frame was seen (the socket stopped being OPEN) and the close it gave. */
  serverClosed?: { atMs: number; code: number; reason: string; fullyClosedMs?: number };
  /** From the first frame to the moment the flooder stopped writing. */
  floodMs: number;
  /** The first socket error after the welcome (a reset under a write, once the server has closed). */
  socketError?: string;
  endedBy: "server closed the socket" | "time bound";
};

const MAX_BUFFERED = 1 << 20;
/** The longest the loop writes before it lets incoming frames (acks, the close) be handled. */
const SLICE_MS = 5;
const BATCH = 128;
const KAIWA_EVENTS = Buffer.from('{"type":"events"');
const SOCKETIO_EVENTS = Buffer.from('42["events",');

process.on("disconnect", () => process.exit(0));
process.once("message", (start: FloodStart) => {
  run(start).catch((error: unknown) => {
    process.send?.({ type: "failed", error: String(error) });
    setTimeout(() => process.exit(1), 100);
  });
});

async function run(start: FloodStart): Promise<void> {
  const { mode, protocol, prefix } = start;
  const ws = new WebSocket(start.url, { perMessageDeflate: false });
  const report: FloodReport = { mode, framesSent: 0, commandsSent: 0, bytesSent: 0, acked: 0, errors: {}, floodMs: 0, endedBy: "time bound" };
  let t0 = 0;
  const since = () => performance.now() - t0;
  let closeCode: { code: number; reason: string } | undefined;
  const closed = new Promise<void>((resolve) =>
    ws.once("close", (code, reason) => {
      closeCode = { code, reason: reason.toString() };
      resolve();
    }),
  );
  const welcomed = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("flooder: no welcome within 30 s")), 30_000);
    ws.once("error", (error) => reject(error));
    void closed.then(() => reject(new Error(`flooder: closed ${closeCode?.code} ${closeCode?.reason} before welcome`)));
    ws.on("message", (data) => {
      if (isEventsFrame(data, protocol === "socketio" ? SOCKETIO_EVENTS : KAIWA_EVENTS)) return; // its own flood, broadcast back
      const text = data.toString();
      if (protocol === "socketio") {
        if (text.startsWith("43")) return void report.acked++;
        if (text === "2") return ws.send("3");
        if (text.startsWith("0{")) return ws.send("40");
        if (text.startsWith('42["welcome"')) {
          clearTimeout(timer);
          resolve();
        }
        return;
      }
      if (text === "pong") return;
      let frame: { type?: string; acks?: unknown[]; code?: string; retryAfterMs?: number; ref?: string };
      try {
        frame = JSON.parse(text);
      } catch {
        return;
      }
      if (frame.type === "ack") report.acked += frame.acks?.length ?? 0;
      else if (frame.type === "welcome") {
        clearTimeout(timer);
        resolve();
      } else if (frame.type === "error" && frame.code) {
        report.errors[frame.code] = (report.errors[frame.code] ?? 0) + 1;
        if (frame.code === "rate_limited" && !report.rateLimited) report.rateLimited = { atMs: since(), retryAfterMs: frame.retryAfterMs ?? NaN, ...(frame.ref ? { ref: frame.ref } : {}) };
      }
    });
  });
  await welcomed;
  // A server that closes or resets the socket under a write makes `ws` emit an error: part of being cut off.
  ws.on("error", (error) => void (report.socketError ??= String(error)));
  process.send?.({ type: "ready" });
  await new Promise<void>((resolve) => process.once("message", () => resolve()));

  let n = 0;
  let nextFrame: () => string;
  const send = (i: number) => (protocol === "socketio" ? `42${i}["send",{"clientId":"${prefix}${i}","text":"flood"}]` : `{"type":"send","clientId":"${prefix}${i}","n":${i},"text":"flood"}`);
  if (mode === "invalid") {
    const invalid = protocol === "socketio" ? '42["send",{"text":"flood"}]' : '{"type":"send","text":"flood"}';
    nextFrame = () => invalid;
  } else if (mode === "batch") {
    if (protocol === "socketio") throw new Error("flooder: Socket.IO has no batch frame");
    nextFrame = () => {
      const commands: string[] = [];
      for (let k = 0; k < BATCH; k++) commands.push(send(++n));
      report.commandsSent += BATCH;
      return `{"type":"batch","commands":[${commands.join(",")}]}`;
    };
  } else {
    nextFrame = () => {
      report.commandsSent++;
      return send(++n);
    };
  }

  t0 = performance.now();
  const deadline = t0 + start.seconds * 1000;
  await new Promise<void>((resolve) => {
    const pump = () => {
      if (ws.readyState !== WebSocket.OPEN) {
        report.serverClosed = { atMs: since(), code: closeCode?.code ?? NaN, reason: closeCode?.reason ?? "" };
        report.endedBy = "server closed the socket";
        return resolve();
      }
      const now = performance.now();
      if (now >= deadline) return resolve();
      const sliceEnd = now + SLICE_MS;
      while (ws.bufferedAmount < MAX_BUFFERED && ws.readyState === WebSocket.OPEN) {
        const frame = nextFrame();
        ws.send(frame);
        report.framesSent++;
        report.bytesSent += frame.length;
        if ((report.framesSent & 63) === 0 && performance.now() >= sliceEnd) break;
      }
      if (ws.bufferedAmount >= MAX_BUFFERED) setTimeout(pump, 1);
      else setImmediate(pump);
    };
    pump();
  });
  report.floodMs = since();
  if (report.endedBy === "time bound") {
    // Gone at once, as an attacker's process would be: no close handshake waiting behind the backlog.
    ws.terminate();
  } else {
    // The server closed: its close code arrives once the socket has finished closing (the server first
    // reads what is still queued towards it, up to the close reply).
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    if (report.serverClosed && closeCode) report.serverClosed = { ...report.serverClosed, code: closeCode.code, reason: closeCode.reason, fullyClosedMs: since() };
    ws.terminate();
  }
  process.send?.({ type: "done", report });
}
