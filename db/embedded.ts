/**
 * The embedded archive database for development and tests: PGlite (Postgres compiled to WASM) persisted
 * to a directory, served on a local TCP port by pglite-socket, behind the WebSocket bridge the driver
 * talks to. Persisted, not in memory: an in-memory archive loses everything on restart and PROTOCOL I9 could not hold.
 */
import { mkdirSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { startBridge, type Bridge } from "./bridge.ts";

export type EmbeddedDb = { db: PGlite; tcpPort: number; bridge: Bridge; stop(): Promise<void> };

export async function startEmbedded(dataDir: string, options: { bridgePort?: number; tcpPort?: number } = {}): Promise<EmbeddedDb> {
  mkdirSync(dataDir, { recursive: true });
  const db = await PGlite.create({ dataDir });
  // The bridge admits one session at a time (serial), so the multiplexer never interleaves two clients;
  // the higher cap only lets a new connection in while the previous one's teardown is still running.
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: options.tcpPort ?? 0, maxConnections: 8 });
  await server.start();
  const tcpPort = Number(server.getServerConn().split(":").pop());
  const bridge = await startBridge({ target: { host: "127.0.0.1", port: tcpPort }, port: options.bridgePort, serial: true });
  return {
    db,
    tcpPort,
    bridge,
    async stop() {
      await bridge.close();
      await server.stop();
      await db.close();
    },
  };
}
