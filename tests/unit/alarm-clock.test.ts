/** AlarmClock: several users share one storage alarm; the earliest wish wins and nobody cancels another. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type * as Party from "partykit/server";
import { AlarmClock } from "../../party/adapters/alarm-clock.ts";

/** Just the three alarm calls of DO storage, recording what the runtime would hold. */
function alarmStorage(initial: number | null = null) {
  const state = { alarm: initial, sets: 0, deletes: 0 };
  const storage = {
    getAlarm: async () => state.alarm,
    setAlarm: async (at: number) => {
      state.alarm = at;
      state.sets++;
    },
    deleteAlarm: async () => {
      state.alarm = null;
      state.deletes++;
    },
  } as unknown as Party.Storage;
  return { storage, state };
}

describe("AlarmClock", () => {
  it("sets the earliest wish and never postpones it for a later one", async () => {
    const { storage, state } = alarmStorage();
    const clock = new AlarmClock(storage);
    await clock.want("notify", 10_000);
    await clock.want("archive", 500);
    assert.equal(state.alarm, 500);
    await clock.want("notify", 20_000);
    assert.equal(state.alarm, 500, "a later wish does not move the alarm");
  });

  it("lets one user withdraw without cancelling the other's wish", async () => {
    const { storage, state } = alarmStorage();
    const clock = new AlarmClock(storage);
    await clock.want("archive", 500);
    await clock.want("notify", 10_000);
    await clock.withdraw("archive");
    assert.equal(state.alarm, 10_000, "the archive's 'done' leaves the notify wish standing");
    await clock.withdraw("notify");
    assert.equal(state.alarm, null);
    assert.equal(state.deletes, 1);
    await clock.withdraw("notify");
    assert.equal(state.deletes, 1, "withdrawing twice changes nothing");
  });

  it("after a restart, keeps an earlier alarm a previous instance set", async () => {
    const { storage, state } = alarmStorage(300);
    const clock = new AlarmClock(storage);
    await clock.load();
    await clock.want("notify", 10_000);
    assert.equal(state.alarm, 300);
    clock.fired();
    await clock.want("notify", 10_000);
    assert.equal(state.alarm, 10_000, "once fired, every wish is spent and a new one sets the alarm");
  });

  it("after a failed set, trusts no plan: the next wish sets the alarm, at the earliest wish still owed", async () => {
    const { storage, state } = alarmStorage();
    let fail = true;
    const setAlarm = storage.setAlarm.bind(storage);
    storage.setAlarm = async (at: number) => {
      if (fail) throw new Error("setAlarm failed (injected)");
      return setAlarm(at);
    };
    const clock = new AlarmClock(storage);
    await assert.rejects(clock.want("archive", 500), /injected/);
    assert.equal(state.alarm, null);
    fail = false;
    await clock.want("notify", 10_000);
    assert.equal(state.alarm, 500, "the archive's wish, still owed, is the one set (a later wish would strand it)");
    await assert.doesNotReject(clock.want("archive", 700));
    assert.equal(state.sets, 1, "once set, a later wish sets nothing");
  });
});
