/**
 * How party code reaches the archive: `@neondatabase/serverless` over a WebSocket, from the room (its
 * alarm) and from the worker (search). Production: `KAIWA_DATABASE_URL` is a Neon URL and the driver's
 * defaults apply. Development and tests: `KAIWA_DB_WS_PROXY` names the local bridge (db/bridge.ts), and the
 * driver is told to speak plain `ws://` and no Postgres-level TLS to it (the bridge is on loopback).
 */
import { Client, neonConfig } from "@neondatabase/serverless";
import { readDatabaseConfig, type ArchiveConfig } from "../config.ts";

export type { ArchiveConfig };

/**
 * KAIWA_DATABASE_URL and KAIWA_DB_WS_PROXY, validated by the loader (party/config.ts); undefined when unset.
 * Reads only these two, so Node scripts may pass `process.env`. Throws ConfigError naming a bad one.
 */
export function archiveConfigFromEnv(env: Record<string, unknown>): ArchiveConfig | undefined {
  return readDatabaseConfig(env);
}

export type Db = Pick<Client, "query">;

/** neonConfig is global to the isolate; every party in it reads the same env, so setting it once is enough. */
function configure(config: ArchiveConfig): void {
  if (!config.wsProxy) return;
  const proxy = config.wsProxy;
  neonConfig.wsProxy = () => proxy;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineConnect = false; // pipelining the startup assumes cleartext password auth
  neonConfig.forceDisablePgSSL = true;
}

/**
 * One short session per unit of work, ended at once. A Durable Object may not reuse an I/O object across
 * requests it did not create it in, and the embedded PGlite serves one session at a time: an idle pooled
 * connection would hold up every other room.
 */
export async function withDb<T>(config: ArchiveConfig, work: (db: Db) => Promise<T>, timeoutMs = 10_000): Promise<T> {
  configure(config);
  const client = new Client({ connectionString: config.url, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs } as never);
  client.on("error", () => {}); // a dropped connection surfaces through the pending query; never crash the isolate
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}
