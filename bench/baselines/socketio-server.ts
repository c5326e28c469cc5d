/**
 * Baseline (a): a small but fair Socket.IO server with the Redis adapter, one process as kaiwa has.
 * The same work as kaiwa's room minus durability: rooms, a per-room seq kept in memory, an ack to the
 * sender, one broadcast to the room through the adapter (which also publishes to Redis for other nodes).
 * It stores nothing durably: a restart loses every message and the numbering.
 *
 *   node --import tsx bench/baselines/socketio-server.ts --port 4001 --redis redis://127.0.0.1:6390
 */
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import { createAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";
import { Server } from "socket.io";

const { values } = parseArgs({ options: { port: { type: "string" }, redis: { type: "string" } } });

// The adapter publishes every broadcast without awaiting it; node-redis's default 5 s command timeout then
// rejects unhandled and kills the process when an overloaded server queues publishes for longer (seen in
// the one-room burst). A generous timeout keeps the baseline alive, and a late publish is only logged.
const pub = createClient({ url: values.redis, commandOptions: { timeout: 120_000 } });
pub.on("error", (error) => console.error("redis pub:", error));
process.on("unhandledRejection", (error) => console.error("unhandled rejection:", error));
const sub = pub.duplicate();
sub.on("error", (error) => console.error("redis sub:", error));
await Promise.all([pub.connect(), sub.connect()]);

const http = createServer();
// WebSocket only, no per-message compression, no connection-state recovery: the cheapest fair setup.
const io = new Server(http, { transports: ["websocket"], perMessageDeflate: false, serveClient: false, adapter: createAdapter(pub, sub) });
const seqs = new Map<string, number>();

io.on("connection", (socket) => {
  const room = String(socket.handshake.query.room ?? "");
  void socket.join(room);
  socket.emit("welcome", { lastSeq: seqs.get(room) ?? 0 });
  socket.on("send", (frame: { clientId?: unknown; text?: unknown }, ack?: (answer: unknown) => void) => {
    if (typeof frame?.clientId !== "string" || typeof frame.text !== "string" || typeof ack !== "function") return;
    const seq = (seqs.get(room) ?? 0) + 1;
    seqs.set(room, seq);
    ack({ seq });
    io.to(room).emit("events", [{ seq, clientId: frame.clientId, text: frame.text }]);
  });
});
http.listen(Number(values.port), "127.0.0.1", 4096, () => console.log(`socket.io baseline listening ${values.port}`));
