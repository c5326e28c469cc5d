/**
 * The archive outbox's scheduling (PROTOCOL I9): a drain whose alarm could not be set must not leave the
 * outbox believing one is set, or every later commit skips arming and the room's newest events never reach
 * the archive. Real RoomArchive and AlarmClock over an in-memory storage whose setAlarm can be made to fail.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type * as Party from "partykit/server";
import { RoomArchive } from "../../party/archive/outbox.ts";
import type { ArchiveSettings } from "../../party/archive/config.ts";
import { AlarmClock } from "../../party/adapters/alarm-clock.ts";
import type { RoomCore } from "../../party/core/room-core.ts";

/** Storage with the calls the outbox makes; the setAlarm calls numbered in `failing` (1-based) reject. */
function memoryStorage() {
  const data = new Map<string, unknown>();
  const state = { alarm: null as number | null, sets: [] as number[], failing: new Set<number>() };
  const storage = {
    get: async (key: string) => data.get(key),
    put: async (key: string | Record<string, unknown>, value?: unknown) => {
      if (typeof key === "string") data.set(key, value);
      else for (const [k, v] of Object.entries(key)) data.set(k, v);
    },
    delete: async (keys: string | string[]) => {
      for (const key of Array.isArray(keys) ? keys : [keys]) data.delete(key);
      return true;
    },
    list: async ({ prefix = "" }: { prefix?: string } = {}) => new Map([...data].filter(([k]) => k.startsWith(prefix)).sort()),
    getAlarm: async () => state.alarm,
    setAlarm: async (at: number) => {
      state.sets.push(at);
      if (state.failing.has(state.sets.length)) throw new Error("setAlarm failed (injected)");
      state.alarm = at;
    },
    deleteAlarm: async () => {
      state.alarm = null;
    },
  } as unknown as Party.Storage;
  return { storage, state };
}

/** The database is a real address nobody listens on: every drain fails as an unreachable archive does. */
const settings: ArchiveSettings = {
  db: { url: "postgres://kaiwa:kaiwa@127.0.0.1:9/nowhere", wsProxy: "127.0.0.1:9" },
  retentionEvents: 1_000,
  batchRows: 100,
  rowsPerAlarm: 1_000,
  drainDelayMs: 1_000,
  retryBaseMs: 100,
  retryCapMs: 1_000,
  testLoseReplyAt: 0,
};

const core = { committedSeq: 3 } as RoomCore;
/** Lets the background drain (started by wake) run to its end: everything it awaits here settles in turns. */
const settle = async (archive: RoomArchive) => {
  for (let i = 0; i < 200 && archive.counters.drains === 0; i++) await new Promise((r) => setTimeout(r, 5));
  for (let i = 0; i < 400; i++) {
    await new Promise((r) => setTimeout(r, 5));
    if (!(archive as unknown as { draining: boolean }).draining) return;
  }
  assert.fail("the drain never ended");
};

async function outbox() {
  const { storage, state } = memoryStorage();
  const clock = new AlarmClock(storage);
  await clock.load();
  const archive = new RoomArchive(storage, settings, () => core, clock);
  await archive.load();
  return { archive, clock, state };
}

test("a drain whose watchdog alarm cannot be set leaves the outbox unarmed: the next commit arms it", async () => {
  const { archive, clock, state } = await outbox();
  archive.armDrain("general");
  assert.equal(state.sets.length, 1, "a commit arms the drain");
  clock.fired();
  state.failing.add(2);
  const error = console.error;
  console.error = () => {};
  try {
    archive.wake();
    await settle(archive);
  } finally {
    console.error = error;
  }
  assert.equal(state.sets.length, 2, "the drain tried to set its watchdog");
  const before = Date.now();
  archive.armDrain("general"); // the next commit
  assert.equal(state.sets.length, 3, "the commit after the failure sets the alarm again");
  assert.ok(state.alarm !== null && state.alarm >= before && state.alarm <= Date.now() + settings.drainDelayMs, "the drain is due a drain delay after the commit");
});

test("a failed drain whose retry alarm cannot be set leaves the outbox unarmed: the next commit arms it", async () => {
  const { archive, clock, state } = await outbox();
  archive.armDrain("general");
  clock.fired();
  const error = console.error;
  console.error = () => {};
  try {
    state.failing.add(3); // arm, watchdog, then the retry's alarm fails
    archive.wake();
    await settle(archive);
  } finally {
    console.error = error;
  }
  const stats = archive.counters;
  assert.equal(stats.failures, 1, "the database failure was counted");
  assert.equal(state.sets.length, 3, "arm, watchdog, and the retry that failed");
  assert.equal(state.alarm, state.sets[1], "only the watchdog is set in storage");
  archive.armDrain("general");
  assert.equal(state.sets.length, 4, "the commit after the failure sets the alarm again");
  assert.ok(state.alarm !== null && state.alarm <= Date.now() + settings.drainDelayMs);
});
