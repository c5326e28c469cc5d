import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { test } from "node:test";
import { freePort, pickRange } from "../helpers/free-port.ts";

const listen = (port: number): Promise<Server> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject).listen(port, "0.0.0.0", () => resolve(server));
  });
const close = (server: Server): Promise<unknown> => new Promise((resolve) => server.close(resolve));
const NO_RANGE = "no usable range below the OS's ephemeral ports here (not Linux, or it starts too low): freePort takes the OS's pick";

test("free ports lie below the OS's ephemeral range, so a port-0 bind cannot be handed the same one", async (t) => {
  const range = pickRange();
  if (!range) return t.skip(NO_RANGE);
  const [low, high] = range;
  const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
  for (const port of ports) assert.ok(port >= low && port < high, `port ${port} should lie in [${low}, ${high})`);
});

test("a free port can be listened on", async () => {
  await close(await listen(await freePort()));
});

test("a port someone listens on is not offered: the next pick is tried", async (t) => {
  const range = pickRange();
  if (!range) return t.skip(NO_RANGE);
  const [low, high] = range;
  const held = await freePort();
  const server = await listen(held);
  const picks = [(held - low + 0.5) / (high - low), Math.random()];
  const port = await freePort(() => picks.shift() ?? Math.random());
  await close(server);
  assert.notEqual(port, held);
  assert.equal(picks.length, 0, "the held port was picked first, then another");
});
