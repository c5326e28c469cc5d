/**
 * Test mode only: the faults the KAIWA_TEST_* switches inject into the room's writes and releases
 * (party/test-switches.ts). The writer installs these wrappers once, at construction, and only when
 * `KAIWA_TEST_MODE=1`; outside test mode its write and release paths read no switch at all.
 */
import type { TestSwitches } from "../test-switches.ts";

/** One durable write: `begin` arms what must be armed in the write's turn, `store` hands it to storage. */
export type WriteSteps<W> = { begin(): void; store(writes: W): Promise<void> };
/** One release of a durable batch: the room's state takes it, then its answers go out. */
export type ReleaseSteps<I, T> = { take(items: I[]): T; answer(items: I[], taken: T): void };

/**
 * A write with the switches' faults: the Nth fails before anything is armed (KAIWA_TEST_FAIL_WRITE_AT),
 * the Nth never settles (KAIWA_TEST_HANG_WRITE_AT), every one confirms late (KAIWA_TEST_WRITE_DELAY_MS).
 */
export function faultyWrite<W>(test: TestSwitches, steps: WriteSteps<W>): (writes: W) => Promise<void> {
  let started = 0;
  const delay = test.writeDelayMs;
  return (writes) => {
    const n = ++started;
    if (n === test.failWriteAt) return Promise.reject(new Error("test switch: injected write failure"));
    steps.begin();
    if (n === test.hangWriteAt) return new Promise<void>(() => {}); // a write that never settles
    const stored = steps.store(writes);
    // A slow disk: the write is confirmed this much later, to prove nothing is visible before it (PROTOCOL I2).
    return delay > 0 ? stored.then(() => new Promise<void>((resolve) => setTimeout(resolve, delay))) : stored;
  };
}

/**
 * A release with KAIWA_TEST_FAIL_RELEASE_AT's fault: the Nth throws before the state took the batch
 * (stage "state") or after it, before any answer (stage "release"); PROTOCOL R3a.
 */
export function faultyRelease<I, T>(test: TestSwitches, steps: ReleaseSteps<I, T>): (items: I[]) => void {
  let started = 0;
  return (items) => {
    const failHere = ++started === test.failReleaseAt;
    if (failHere && test.failReleaseStage === "state") throw new Error("test switch: injected failure before the state took the batch");
    const taken = steps.take(items);
    if (failHere) throw new Error("test switch: injected release failure");
    steps.answer(items, taken);
  };
}
