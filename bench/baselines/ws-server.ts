/**
 * Baseline (b): a bare `ws` broadcast server, the box's fan-out ceiling. Per room it numbers messages in
 * memory, acks the sender and sends one serialised frame to every socket in the room (per frame received:
 * a `batch` of commands gets one ack frame and one events frame, as kaiwa answers it). It stores nothing
 * and checks nothing: it is what kaiwa would cost with durability, auth and validation taken away.
 *
 *   node --import tsx bench/baselines/ws-server.ts --port 4000 [--drop-seq N] [--dup-seq N] [--close-seq N] [--stall-seq N]
 *
 * --drop-seq / --dup-seq / --close-seq / --stall-seq inject a known fault (never broadcast seq N / broadcast
 * it twice / close the socket that sent it, with 1011, before answering / from seq N on, ignore that room's
 * commands, as a room that stopped working would): the load tool's own test uses them to prove a loss, a
 * duplicate, a socket the server closed or a stalled room makes the bench fail and says which.
 */
import { parseArgs } from "node:util";
import { WebSocketServer, type WebSocket } from "ws";

const { values } = parseArgs({ options: { port: { type: "string" }, "drop-seq": { type: "string" }, "dup-seq": { type: "string" }, "close-seq": { type: "string" }, "stall-seq": { type: "string" } } });
const dropSeq = Number(values["drop-seq"] ?? 0);
const dupSeq = Number(values["dup-seq"] ?? 0);
const closeSeq = Number(values["close-seq"] ?? 0);
const stallSeq = Number(values["stall-seq"] ?? 0);

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
  ws.send(JSON.stringify({ type: "welcome", lastSeq: joined.seq, accepts: ["batch"] }));
  ws.on("message", (data) => {
    let frame: { type?: unknown; commands?: unknown };
    try {
      frame = JSON.parse(data.toString());
    } catch {
      return;
    }
    // A `batch` (PROTOCOL R17) is answered as kaiwa answers it: one ack frame and one events frame for all of it.
    const commands = frame.type === "batch" && Array.isArray(frame.commands) ? frame.commands : [frame];
    const acks: string[] = [];
    const events: string[] = [];
    let duplicate: string | undefined;
    for (const command of commands as Array<{ type?: unknown; clientId?: unknown; text?: unknown }>) {
      if (command.type !== "send" || typeof command.clientId !== "string" || typeof command.text !== "string") continue;
      if (joined.seq + 1 === closeSeq) return ws.close(1011, "fault");
      if (stallSeq && joined.seq + 1 >= stallSeq) break;
      const seq = ++joined.seq;
      const clientId = JSON.stringify(command.clientId);
      acks.push(`{"clientId":${clientId},"seq":${seq}}`);
      if (seq === dropSeq) continue;
      const event = `{"seq":${seq},"clientId":${clientId},"text":${JSON.stringify(command.text)}}`;
      if (seq === dupSeq) duplicate = event;
      events.push(event);
    }
    if (acks.length === 0) return;
    ws.send(`{"type":"ack","acks":[${acks.join(",")}]}`);
    if (events.length === 0) return;
    // Encoded once, the same bytes to every socket (sent as a text frame), as kaiwa does with its broadcast string.
    const out = Buffer.from(`{"type":"events","events":[${events.join(",")}]}`);
    for (const socket of joined.sockets) socket.send(out, { binary: false });
    // Seq N alone, again: however the sender's commands fell into batches, exactly one event is repeated.
    if (duplicate) for (const socket of joined.sockets) socket.send(`{"type":"events","events":[${duplicate}]}`);
  });
});
server.on("listening", () => console.log(`ws baseline listening ${values.port}`));
