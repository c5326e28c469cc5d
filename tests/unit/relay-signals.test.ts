/** RelaySignals (PROTOCOL R52): the room's presence and typing frames, passed to a relay's viewers and kept for joiners. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { RelaySignals } from "../../party/relay/signals.ts";

test("PROTOCOL R52: each presence or typing frame goes to the viewers as the room sent it; a joiner gets the latest of each", () => {
  const sent: string[] = [];
  const signals = new RelaySignals((frame) => sent.push(frame));
  assert.deepEqual(signals.greeting(), [], "nothing heard yet: nothing to greet with");
  const count1 = '{"type":"presence","joined":[],"left":[],"count":10,"listed":false}';
  const count2 = '{"type":"presence","joined":[],"left":[],"count":12,"listed":false}';
  const typing = '{"type":"typing","users":["hana"]}';
  signals.pass("presence", count1);
  signals.pass("typing", typing);
  signals.pass("presence", count2);
  assert.deepEqual(sent, [count1, typing, count2], "every frame passed on, unchanged, in order");
  assert.deepEqual(signals.greeting().sort(), [count2, typing].sort(), "the latest of each kind");
  signals.pass("typing", '{"type":"typing","users":[]}');
  assert.deepEqual(signals.greeting(), [count2], "nobody typing: a joiner's client already shows nobody");
  assert.equal(sent.length, 4, "the frame saying nobody types still reaches the viewers who saw hana typing");
  signals.clear();
  assert.deepEqual(signals.greeting(), [], "a new subscription: the room greets it afresh");
});
