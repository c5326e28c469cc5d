/** A throwaway redis-server for the Socket.IO baseline: a free port, no persistence, its own process group. */
import { spawnSync } from "node:child_process";
import { ChildServer, freePort } from "./child-server.ts";

export const REDIS_INSTALL_HINT = "redis-server not found. Install it with: sudo apt-get install -y redis-server (Debian/Ubuntu) or brew install redis (macOS).";

export function redisAvailable(): boolean {
  return spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0;
}

export async function startRedis(): Promise<{ url: string; server: ChildServer }> {
  if (!redisAvailable()) throw new Error(REDIS_INSTALL_HINT);
  const port = await freePort();
  // No RDB snapshots, no AOF: the baseline is measured without durability, as it is usually deployed.
  const server = new ChildServer("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"], "Ready to accept connections");
  await server.start();
  return { url: `redis://127.0.0.1:${port}`, server };
}
