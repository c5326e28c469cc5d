/**
 * The bench measures kaiwa without the DevTools session `partykit dev` attaches to workerd
 * (bench/lib/devtools.ts says what that session costs). This proves a plain `partykit dev` holds one,
 * and that after the bench's detach nobody does, then or a second later.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { detachDevtools, devtoolsFree, inspectorConnections } from "../../bench/lib/devtools.ts";
import { DevServer, sleep } from "../helpers/dev-server.ts";

const server = new DevServer();
before(() => server.start());
after(() => server.stop());

test("bench: partykit dev holds a DevTools session on workerd", async () => {
  // partykit attaches a moment after the server first answers. Wait for its connection in the kernel's socket
  // table, held for half a second, before looking: a look attaches, and one made before partykit's became
  // the session, which partykit's attach then closed along with its own (workerd keeps one session, and a
  // second connection closes both), so partykit never held one (CI saw that once, under load).
  const deadline = Date.now() + 30_000;
  let held = 0;
  while (held < 5 && Date.now() < deadline) {
    held = inspectorConnections(server.pid) > 0 ? held + 1 : 0;
    await sleep(100);
  }
  assert.equal(held, 5, "partykit dev should connect to workerd's inspector");
  // Looking closes partykit's session: the next test restarts the server.
  assert.equal(await devtoolsFree(server.pid), false, "partykit dev should hold a DevTools session on workerd");
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
