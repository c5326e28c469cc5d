/**
 * The plain-send shortcut (party/protocol/plain-send.ts) on the cases that matter most, named; the fuzz
 * property in tests/fuzz/properties.ts covers the rest. And checkFrame/decodeFrame (decode.ts) take the
 * shortcut's answer without asking the schema, which is what makes it cheap.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as z from "zod/mini";
import { Command } from "../../party/protocol/index.ts";
import { checkFrame, decodeFrame } from "../../party/protocol/decode.ts";
import { plainSend } from "../../party/protocol/plain-send.ts";

const plain = { type: "send", clientId: "c-1", n: 7, text: "こんにちは" };
const json = (value: unknown) => JSON.parse(JSON.stringify(value));

test("a plain send is answered by the shortcut, equal to zod's parse", () => {
  const value = json(plain);
  assert.deepEqual(plainSend(value), z.parse(Command, value));
  assert.deepEqual(plainSend(json({ ...plain, clientId: "x".repeat(64), n: Number.MAX_SAFE_INTEGER, text: "" })), { ...plain, clientId: "x".repeat(64), n: Number.MAX_SAFE_INTEGER, text: "" });
});

test("anything else is left to the schema: other fields, other types, bad ids and numbers, odd objects", () => {
  const declined: unknown[] = [
    { ...plain, replyTo: 3 },
    { ...plain, attachments: [] },
    { ...plain, extra: 1 }, // zod would strip it; the schema decides
    { ...plain, type: "edit", target: 1 },
    { ...plain, clientId: "__proto__" },
    { ...plain, clientId: "" },
    { ...plain, clientId: "x".repeat(65) },
    { ...plain, clientId: "a b" },
    { ...plain, n: 0 },
    { ...plain, n: 1.5 },
    { ...plain, n: Number.MAX_SAFE_INTEGER + 1 },
    { ...plain, n: "1" },
    { ...plain, text: 5 },
    [plain],
    null,
    "send",
  ];
  for (const value of declined) assert.equal(plainSend(json(value)), undefined, JSON.stringify(value));
  assert.equal(plainSend(JSON.parse('{"type":"send","clientId":"c","n":1,"text":"t","__proto__":{}}')), undefined, "an own __proto__ key");
  assert.equal(plainSend(Object.assign(Object.create(null), plain)), undefined, "an object without Object.prototype");
  assert.equal(plainSend(Object.assign(Object.create({ replyTo: 1 }), plain)), undefined, "an inherited key");
});

test("checkFrame and decodeFrame take the shortcut's answer and ask the schema only when it declines", () => {
  const refuseAll = Command.check(z.refine(() => false)); // refuses everything: only the shortcut can accept
  assert.deepEqual(checkFrame(json(plain), refuseAll, plainSend), { ok: true, frame: plain });
  assert.deepEqual(decodeFrame(JSON.stringify(plain), refuseAll, plainSend), { ok: true, frame: plain });
  const declined = checkFrame(json({ ...plain, n: 0 }), refuseAll, plainSend);
  assert.equal(declined.ok, false);
  const byZod = checkFrame(json({ ...plain, n: 0 }), Command, plainSend);
  assert.ok(!byZod.ok && byZod.error.code === "bad_frame" && byZod.error.ref === "c-1", "zod's typed error, with the command's ref");
});
