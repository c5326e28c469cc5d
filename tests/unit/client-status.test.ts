import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isStopped, StatusMachine, type StatusChange } from "../../client/status.ts";

describe("StatusMachine", () => {
  it("starts idle and emits previous, current and reason on each transition", () => {
    const seen: StatusChange[] = [];
    const status = new StatusMachine((c) => seen.push(c));
    assert.equal(status.current, "idle");
    assert.equal(status.transition("connecting", "started"), true);
    status.transition("open", "joined");
    status.transition("reconnecting", "closed 1006");
    status.transition("auth_failed", "closed 4001 unauthorized");
    assert.deepEqual(seen, [
      { previous: "idle", current: "connecting", reason: "started" },
      { previous: "connecting", current: "open", reason: "joined" },
      { previous: "open", current: "reconnecting", reason: "closed 1006" },
      { previous: "reconnecting", current: "auth_failed", reason: "closed 4001 unauthorized" },
    ]);
    assert.equal(status.current, "auth_failed");
    assert.equal(status.reason, "closed 4001 unauthorized");
  });

  it("emits nothing when the state does not change", () => {
    const seen: StatusChange[] = [];
    const status = new StatusMachine((c) => seen.push(c));
    status.transition("reconnecting", "first failure");
    assert.equal(status.transition("reconnecting", "second failure"), false);
    assert.equal(seen.length, 1);
    assert.equal(status.reason, "first failure");
  });

  it("stopped states are the ones that wait for the app", () => {
    assert.deepEqual(
      (["idle", "connecting", "open", "reconnecting", "auth_failed", "closed"] as const).filter(isStopped),
      ["idle", "auth_failed", "closed"],
    );
  });
});
