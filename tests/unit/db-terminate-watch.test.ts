/** The bridge's Terminate detector follows message boundaries, so payload bytes never look like a Terminate. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { TerminateWatch } from "../../db/terminate-watch.ts";

const int32 = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const params = [...new TextEncoder().encode("user\0x\0\0")];
const startup = [...int32(8 + params.length), ...int32(196608), ...params];
const sslRequest = [...int32(8), ...int32(80877103)];
const terminate = [0x58, ...int32(4)];
const query = (text: string) => {
  const body = [...new TextEncoder().encode(text), 0];
  return [0x51, ...int32(body.length + 4), ...body];
};

test("sees a Terminate after startup and queries, even split across chunks", () => {
  const stream = [...startup, ...query("select 1"), ...terminate];
  for (let cut = 0; cut <= stream.length; cut++) {
    const watch = new TerminateWatch();
    const first = watch.push(new Uint8Array(stream.slice(0, cut)));
    const second = watch.push(new Uint8Array(stream.slice(cut)));
    assert.equal(first || second, true, `cut at ${cut}`);
  }
});

test("a payload that contains Terminate's bytes is not a Terminate", () => {
  const tricky = query("X\0\0\0\u0004");
  const watch = new TerminateWatch();
  assert.equal(watch.push(new Uint8Array([...startup, ...tricky])), false);
  assert.equal(watch.push(new Uint8Array(terminate)), true);
});

test("an SSLRequest before the startup message is followed correctly", () => {
  const watch = new TerminateWatch();
  assert.equal(watch.push(new Uint8Array([...sslRequest, ...startup, ...query("select 2")])), false);
  assert.equal(watch.push(new Uint8Array(terminate)), true);
});
