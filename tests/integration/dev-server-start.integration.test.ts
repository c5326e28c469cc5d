/**
 * The helper that starts `partykit dev` (tests and bench) gives up at once when workerd cannot start,
 * instead of polling a server that will never answer: partykit stays up after the runtime fails (it
 * waits for a file change), so only its output tells.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
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

test("a start that hangs (alive, silent, never answering) is killed and tried once more on a new port, then fails saying so", async () => {
  // A stand-in for a workerd that sits idle before binding: node runs this instead of partykit's CLI, and
  // notes the port each start was given.
  const starts = join(mkdtempSync(join(tmpdir(), "hung-start-")), "ports");
  const script = `require("fs").appendFileSync(${JSON.stringify(starts)}, process.argv[process.argv.indexOf("--port") + 1] + "\\n"); setInterval(() => {}, 1000)`;
  const server = new DevServer({ nodeArgs: ["-e", script] });
  try {
    await assert.rejects(server.start(6_000), /did not become healthy/);
    const ports = readFileSync(starts, "utf8").trim().split("\n");
    assert.equal(ports.length, 2, "tried twice");
    assert.notEqual(ports[0], ports[1], "a server that never ran tries again on a new port");
  } finally {
    await server.stop();
    rmSync(dirname(starts), { recursive: true, force: true });
  }
});
