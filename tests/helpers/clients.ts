/** Real typed clients (client/ over partysocket + `ws`) against a test DevServer, with what they observed. */
import WebSocket from "ws";
import { KaiwaRoom, type KaiwaRoomOptions } from "../../client/index.ts";
import type { DevServer } from "./dev-server.ts";
import type { Observed } from "./log-check.ts";
import { waitFor } from "./dev-server.ts";

export type TestClient = { room: KaiwaRoom; observed: Observed; statuses: string[]; resumes: unknown[]; resets: string[]; bootIds: string[] };

export async function openClient(server: DevServer, roomId: string, userId: string, options: Partial<KaiwaRoomOptions> = {}): Promise<TestClient> {
  const room = new KaiwaRoom({
    host: server.host,
    room: roomId,
    token: () => server.token(userId, { name: userId.toUpperCase() }),
    WebSocket,
    backoff: { baseMs: 100, capMs: 1000 },
    ...options,
  });
  const client: TestClient = { room, observed: { events: [], acks: new Map(), sent: [], userId }, statuses: [], resumes: [], resets: [], bootIds: [] };
  room.on("event", (event) => client.observed.events.push(event));
  room.on("status", (change) => client.statuses.push(change.current));
  room.on("welcome", (welcome) => {
    client.resumes.push(welcome.resume);
    client.bootIds.push(welcome.bootId);
  });
  room.on("reset", (reset) => client.resets.push(reset.reason));
  await waitFor(() => room.status === "open", 30_000, `${userId} open`);
  return client;
}

/** Sends `texts` without waiting between them (all in flight at once); records acks and sending order. */
export async function sendAll(client: TestClient, texts: string[]): Promise<void> {
  const results = await Promise.all(texts.map((text) => client.room.send(text)));
  for (const result of results) {
    client.observed.sent.push(result.clientId);
    client.observed.acks.set(result.clientId, result.seq);
  }
}
