/**
 * When a bench run ends with commands unacked, the kaiwa target asks each such room where its commands
 * wait (bench/targets/kaiwa-room-state.ts, over the operator stats route). This proves the line tells a
 * settled room from one whose write has not confirmed, against a real `partykit dev` whose writes are
 * slowed by the test switch, so a stall in a full bench run can be told apart from a crash.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { KaiwaTarget } from "../../bench/targets/kaiwa.ts";
import type { Conn } from "../../bench/targets/types.ts";
import { waitFor } from "../helpers/dev-server.ts";

const WRITE_DELAY_MS = 3_000;
const slow = new KaiwaTarget({ vars: { KAIWA_TEST_WRITE_DELAY_MS: String(WRITE_DELAY_MS) } });
before(() => slow.start());
after(() => slow.stop());

async function sender(room: string, acked: Set<string>): Promise<Conn> {
  return slow.connect({ room, user: "stall-probe", session: "s1", handlers: { onAck: (clientId) => void acked.add(clientId) } });
}

test("bench: a room whose write has not confirmed says so, and a settled room says it is idle", async () => {
  const room = `stall-report-${Date.now().toString(36)}`;
  const acked = new Set<string>();
  const conn = await sender(room, acked);
  conn.send("c1", 1, "first");
  await new Promise((resolve) => setTimeout(resolve, 300));
  conn.send("c2", 2, "second");
  conn.send("c3", 3, "third");
  await new Promise((resolve) => setTimeout(resolve, 300));
  const [during] = await slow.describeRooms([room]);
  assert.equal(acked.size, 0, "nothing acked while the write is slowed");
  assert.match(during!, /^lastSeq 0, 1 sockets, accepted 3 in 1 writes, rejected none, storage failures 0, a write in flight for \d+ ms, 2 collecting behind it, 0 tasks queued, not broken, 0 sockets resyncing/);
  await waitFor(() => acked.size === 3, 3 * WRITE_DELAY_MS + 5_000, "all three acked");
  const [settled] = await slow.describeRooms([room]);
  assert.match(settled!, /^lastSeq 3, 1 sockets, accepted 3 in 2 writes, rejected none, storage failures 0, no write in flight, 0 collecting behind it, 0 tasks queued, not broken, 0 sockets resyncing/);
  conn.close();
});

test("bench: a server that does not answer gives the reason instead of failing the report", async () => {
  const gone = new KaiwaTarget();
  await gone.start();
  await gone.server.kill();
  const lines = await gone.describeRooms(["any-room", "another-room"]);
  await gone.stop();
  assert.equal(lines.length, 2);
  for (const line of lines) assert.match(line, /^stats not answered \(5 s allowed\): .*fetch failed/);
});
