// The README's client example, kept here so `npm run typecheck` compiles it against the real client.
// Run it against `npm run dev`: npm run example -- general "hello from node"
import WebSocket from "ws"; // Node 20 has no global WebSocket; browsers, Deno, Bun and Node 22+ omit this
import { KaiwaRoom, KaiwaError } from "../client/index.ts";

const [roomId = "general", text = "hello"] = process.argv.slice(2);
const room = new KaiwaRoom({
  host: process.env.KAIWA_HOST ?? "127.0.0.1:1999",
  room: roomId,
  token: async () => process.env.KAIWA_TOKEN ?? "", // called on every (re)connect: return a fresh JWT
  WebSocket,
});
room.on("status", ({ previous, current, reason }) => {
  console.log(`status ${previous} -> ${current} (${reason})`);
  if (current === "auth_failed") room.close(); // a real app would fetch a new token, then room.reconnect()
});
room.on("message", (m) => console.log(`#${m.seq} ${m.author.name}: ${m.text}`));
room.on("edit", (e) => console.log(`#${e.seq} edited #${e.target}: ${e.text}`));
room.on("delete", (d) => console.log(`#${d.seq} deleted #${d.target}`));
room.on("reset", ({ reason, latest }) => console.log(`reset (${reason}); latest page has ${latest.events.length} events`));

try {
  const ack = await room.send(text); // resolves once the room has stored it durably
  console.log(`stored as seq ${ack.seq}`);
  const page = await room.history({ limit: 10 });
  console.log(`last ${page.events.length} events, more before: ${page.hasMore}`);
} catch (error) {
  if (error instanceof KaiwaError) console.error(`refused: ${error.code} (retryable: ${error.retryable}) ${error.message}`);
  else throw error;
} finally {
  room.close();
}
