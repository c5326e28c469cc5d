import assert from "node:assert/strict";
import { connect, createServer, type Server } from "node:net";
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

/** Whether something accepts connections on 127.0.0.1:port. */
const answers = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });

/** The port is free: nobody answers on it, and we can bind it on every address (as `partykit dev` does). */
async function assertFree(port: number): Promise<void> {
  assert.ok(Number.isInteger(port) && port > 0 && port < 65_536, `port ${port} is a port number`);
  const range = pickRange();
  if (range) assert.ok(port >= range[0] && port < range[1], `port ${port} should lie in [${range[0]}, ${range[1]})`);
  assert.equal(await answers(port), false, `nothing listens on ${port}`);
  const server = await listen(port); // rejects (EADDRINUSE) if the port is taken
  const address = server.address();
  assert.equal(typeof address === "object" && address ? address.port : undefined, port, "bound exactly the offered port");
  await close(server);
}

test("a free port can be listened on", async () => {
  await assertFree(await freePort());
});

test("the free-port check itself fails for a port that is held", async () => {
  const port = await freePort();
  const held = await listen(port);
  try {
    await assert.rejects(assertFree(port), /nothing listens on/);
  } finally {
    await close(held);
  }
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
  await assertFree(port);
});
