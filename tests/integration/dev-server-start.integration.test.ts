/**
 * The helper that starts `partykit dev` (tests and bench) gives up at once when workerd cannot start,
 * instead of polling a server that will never answer: partykit stays up after the runtime fails (it
 * waits for a file change), so only its output tells.
 */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { test } from "node:test";
import { DevServer } from "../helpers/dev-server.ts";
import { freePort } from "../helpers/free-port.ts";

test("a start on a port someone else holds fails at once and says why", async () => {
  const port = await freePort();
  const holder = createServer((socket) => socket.destroy()); // holds the port, answers nothing
  await new Promise<void>((resolve) => holder.listen(port, "0.0.0.0", resolve));
  const server = new DevServer();
  server.port = port;
  const started = Date.now();
  try {
    await assert.rejects(server.start(45_000), /Address already in use/);
    assert.ok(Date.now() - started < 20_000, `gave up after ${Date.now() - started} ms, not at once`);
  } finally {
    await new Promise((resolve) => holder.close(resolve));
    await server.stop();
  }
});
