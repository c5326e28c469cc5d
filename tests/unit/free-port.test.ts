import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { test } from "node:test";
import { ephemeralRangeLow, freePort, LOWEST } from "../helpers/free-port.ts";

const listen = (port: number): Promise<Server> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject).listen(port, "0.0.0.0", () => resolve(server));
  });
const close = (server: Server): Promise<unknown> => new Promise((resolve) => server.close(resolve));

test("free ports lie below the OS's ephemeral range, so a port-0 bind cannot be handed the same one", async (t) => {
  const low = ephemeralRangeLow();
  if (low === undefined) return t.skip("this OS has no /proc/sys/net/ipv4/ip_local_port_range: freePort takes the OS's pick");
  const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
  for (const port of ports) assert.ok(port >= LOWEST && port < low, `port ${port} should lie in [${LOWEST}, ${low})`);
});

test("a free port can be listened on", async () => {
  await close(await listen(await freePort()));
});

test("a port someone listens on is not offered: the next pick is tried", async (t) => {
  const low = ephemeralRangeLow();
  if (low === undefined) return t.skip("this OS has no /proc/sys/net/ipv4/ip_local_port_range: freePort takes the OS's pick");
  const held = await freePort();
  const server = await listen(held);
  const picks = [(held - LOWEST + 0.5) / (low - LOWEST), Math.random()];
  const port = await freePort(() => picks.shift() ?? Math.random());
  await close(server);
  assert.notEqual(port, held);
  assert.equal(picks.length, 0, "the held port was picked first, then another");
});
