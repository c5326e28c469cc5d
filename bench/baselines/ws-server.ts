/**
 * Baseline (b): a bare `ws` broadcast server, the box's fan-out ceiling. Per room it numbers messages in
 * memory, acks the sender and sends one serialised frame to every socket in the room. It stores nothing
 * and checks nothing: it is what kaiwa would cost with durability, auth and validation taken away.
 *
 *   node --import tsx bench/baselines/ws-server.ts --port 4000 [--drop-seq N] [--dup-seq N]
 *
 * --drop-seq / --dup-seq inject a known fault (never broadcast seq N / broadcast it twice): the load
 * tool's own test uses them to prove a loss or duplicate makes the bench fail.
 */
import { parseArgs } from "node:util";
import { WebSocketServer, type WebSocket } from "ws";

const { values } = parseArgs({ options: { port: { type: "string" }, "drop-seq": { type: "string" }, "dup-seq": { type: "string" } } });
const dropSeq = Number(values["drop-seq"] ?? 0);
const dupSeq = Number(values["dup-seq"] ?? 0);

type Room = { seq: number; sockets: Set<WebSocket> };
const rooms = new Map<string, Room>();

const server = new WebSocketServer({ port: Number(values.port), host: "127.0.0.1", perMessageDeflate: false, backlog: 4096 });
server.on("connection", (ws, request) => {
  const params = new URL(request.url ?? "/", "http://x").searchParams;
  const name = params.get("room") ?? "";
  let room = rooms.get(name);
  if (!room) rooms.set(name, (room = { seq: 0, sockets: new Set() }));
  const joined = room;
  joined.sockets.add(ws);
  ws.on("close", () => joined.sockets.delete(ws));
  ws.send(JSON.stringify({ type: "welcome", lastSeq: joined.seq }));
  ws.on("message", (data) => {
    let frame: { type?: unknown; clientId?: unknown; text?: unknown };
    try {
      frame = JSON.parse(data.toString());
    } catch {
      return;
    }
    if (frame.type !== "send" || typeof frame.clientId !== "string" || typeof frame.text !== "string") return;
    const seq = ++joined.seq;
    ws.send(`{"type":"ack","acks":[{"clientId":${JSON.stringify(frame.clientId)},"seq":${seq}}]}`);
    if (seq === dropSeq) return;
    // Encoded once, the same bytes to every socket (sent as a text frame), as kaiwa does with its broadcast string.
    const out = Buffer.from(`{"type":"events","events":[{"seq":${seq},"clientId":${JSON.stringify(frame.clientId)},"text":${JSON.stringify(frame.text)}}]}`);
    for (const socket of joined.sockets) socket.send(out, { binary: false });
    if (seq === dupSeq) for (const socket of joined.sockets) socket.send(out, { binary: false });
  });
});
server.on("listening", () => console.log(`ws baseline listening ${values.port}`));
