/**
 * The load tool end to end against a real server with a known fault: the bare ws baseline is told to
 * never broadcast seq 5 and to broadcast seq 7 twice. The bench must exit 1 and name both; the same
 * run without the fault must pass. (Real sockets and processes; about 3 s.)
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

const ROOT = join(import.meta.dirname, "..", "..");

function bench(args: string[]) {
  const out = mkdtempSync(join(tmpdir(), "kaiwa-bench-"));
  try {
    const run = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "bench", "main.ts"), "--targets", "ws", "--scenarios", "smoke", "--out", out, ...args], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    return { status: run.status, output: run.stdout + run.stderr };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

test("a known loss and a known duplicate make the bench fail loudly", () => {
  const { status, output } = bench(["--ws-fault", "drop=5,dup=7"]);
  assert.equal(status, 1, output);
  assert.match(output, /FAIL: messages lost, duplicated/);
  // 3 receivers each miss seq 5 once and get seq 7 twice.
  assert.match(output, /lost 3, duplicates 3, mismatches 0/);
  assert.match(output, /lost room=\S+ seq=5 .*gap: seqs 5\.\.5 never delivered/);
  assert.match(output, /duplicate room=\S+ seq=7 .*delivered again/);
});

test("the same run without a fault passes", () => {
  const { status, output } = bench([]);
  assert.equal(status, 0, output);
  assert.match(output, /OK: 1 runs, \d{2,} deliveries checked by \(room, seq, clientId\): nothing lost, nothing duplicated/);
});

test("a socket the server closes during the run makes the bench fail and says so", () => {
  const { status, output } = bench(["--ws-fault", "close=5"]);
  assert.equal(status, 1, output);
  assert.match(output, /sockets closed during the run \(first: sender \S+ in \S+: 1011 fault\)/);
  assert.match(output, /never acked/);
});

test("a room that stops answering makes the bench fail and reports the stall per room", () => {
  const { status, output } = bench(["--ws-fault", "stall=5"]);
  assert.equal(status, 1, output);
  assert.match(output, /never acked/);
  // The ws baseline has no stats to give, so the line is the generator's side alone (a smoke run's few
  // KB fit in the kernel's buffers, so its unsent bytes are 0 whether or not the server reads).
  assert.match(output, /stalled smoke-\S+: \d+ unacked; highest acked seq 4; senders' unsent bytes \[0, 0\]/);
});
