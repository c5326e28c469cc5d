/**
 * The bench measures kaiwa without the DevTools session `partykit dev` attaches to workerd
 * (bench/lib/devtools.ts says what that session costs). This proves a plain `partykit dev` holds one,
 * and that after the bench's detach nobody does, then or a second later.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { detachDevtools, devtoolsFree } from "../../bench/lib/devtools.ts";
import { DevServer, sleep } from "../helpers/dev-server.ts";

const server = new DevServer();
before(() => server.start());
after(() => server.stop());

test("bench: partykit dev holds a DevTools session on workerd", async () => {
  // partykit attaches a moment after the server first answers: look until its session is found. Looking
  // closes it (workerd keeps one session and a second connection closes both): the next test restarts.
  const deadline = Date.now() + 10_000;
  let found = false;
  while (!found && Date.now() < deadline) found = !(await devtoolsFree(server.pid));
  assert.ok(found, "partykit dev should hold a DevTools session on workerd");
  // So the inspector answers right after: the refusal above was partykit's session, not a broken inspector.
  assert.equal(await devtoolsFree(server.pid), true, "workerd's inspector should answer once partykit's session is gone");
});

test("bench: the detach leaves no DevTools session, then or a second later", async () => {
  await server.restart();
  await detachDevtools(server.pid);
  assert.equal(await devtoolsFree(server.pid), true, "a session is still attached right after the detach");
  await sleep(1000);
  assert.equal(await devtoolsFree(server.pid), true, "a session is attached again a second after the detach");
});
