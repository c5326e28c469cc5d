/**
 * The client's own check of an app's command before it takes a number (client/commands.ts): the protocol's
 * schema decides, and the message says what is wrong even though the browser bundle carries none of zod's
 * English (PROTOCOL R71: zod/mini, whose issues come without messages).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkCommand, checkDm } from "../../client/commands.ts";
import { LIMITS } from "../../party/protocol/index.ts";

function refusal(checked: ReturnType<typeof checkCommand> | ReturnType<typeof checkDm>): { code: string; message: string } {
  assert.equal(checked.ok, false, "refused");
  return checked.ok ? { code: "", message: "" } : { code: checked.error.code, message: checked.error.message };
}

test("a refused command names the field and what is wrong, with the bound (PROTOCOL R71)", () => {
  assert.deepEqual(refusal(checkCommand({ type: "member.add", user: "u".repeat(LIMITS.maxUserIdChars + 1) })), {
    code: "bad_frame",
    message: `user: too_big (at most ${LIMITS.maxUserIdChars})`,
  });
  assert.deepEqual(refusal(checkCommand({ type: "group.create", title: "   ", members: [] })), { code: "bad_frame", message: "title: too_small (at least 1)" });
  assert.deepEqual(refusal(checkCommand({ type: "edit", target: "7" as unknown as number, text: "x" })), { code: "bad_frame", message: "target: invalid_type (expected number)" });
  // A schema's own message is kept.
  assert.deepEqual(refusal(checkDm({ type: "dm", to: "b o b", text: "hi" })), { code: "bad_frame", message: "to: only letters, digits, _ and - (and not __proto__)" });
  assert.equal(refusal(checkCommand({ type: "send", text: "x".repeat(LIMITS.maxFrameBytes) })).code, "frame_too_large");
});

test("an accepted command comes back without the fields the outbox assigns, unknown fields dropped", () => {
  const input = { type: "send", text: "hi", clientId: "mine", n: 3, extra: true } as unknown as Parameters<typeof checkCommand>[0];
  assert.deepEqual(checkCommand(input), { ok: true, body: { type: "send", text: "hi" } });
  assert.deepEqual(checkDm({ type: "dm", to: "bob", text: "hi" }), { ok: true, body: { type: "dm", to: "bob", text: "hi" } });
});
