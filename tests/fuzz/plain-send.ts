/**
 * The plain-send shortcut against its definition, the zod schema (party/protocol/plain-send.ts): on valid
 * sends, on sends with one to three of the decoders' mutations (decoders.ts: a key set to an edge value or
 * any JSON value, deleted, wrapped, or added, `__proto__` among them), and on any JSON value, whatever the shortcut returns zod accepts and returns
 * equal; whatever it declines is left to zod; and a send with exactly {type, clientId, n, text} that zod
 * accepts is never declined (else the shortcut would be dead code and the hot path slow again).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import * as z from "zod/mini";
import { Command } from "../../party/protocol/index.ts";
import { plainSend } from "../../party/protocol/plain-send.ts";
import { commandArb, idArb, mutate, mutationArb } from "./decoders.ts";

const plainArb = fc.record({
  type: fc.constant("send"),
  clientId: fc.oneof(idArb, fc.constantFrom("__proto__", "", "x".repeat(65), "a b", "é", "constructor")),
  n: fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.constantFrom(0, -1, 1.5, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, -0)),
  text: fc.oneof(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20, unit: "binary" })),
});

export const plainSendInputArb: fc.Arbitrary<unknown> = fc.oneof(
  plainArb,
  commandArb,
  fc.tuple(fc.oneof(plainArb, commandArb), fc.array(mutationArb, { minLength: 1, maxLength: 3 })).map(([c, ms]) => mutate(c, ms)),
  fc.jsonValue(),
);

export function checkPlainSend(input: unknown): void {
  // As the room gets it: parsed from JSON text (a mutation may leave `__proto__` as an own key, as JSON.parse does).
  const value: unknown = JSON.parse(JSON.stringify(input) ?? "null");
  const quick = plainSend(value);
  const parsed = z.safeParse(Command, value);
  if (quick !== undefined) {
    assert.ok(parsed.success, `the shortcut accepted what zod refuses: ${JSON.stringify(value)}`);
    assert.deepEqual(quick, parsed.data, "the shortcut's value differs from zod's");
    assert.notEqual(quick, value, "a new object, as zod returns");
    return;
  }
  const plainShape = typeof value === "object" && value !== null && !Array.isArray(value) && Object.keys(value).sort().join() === "clientId,n,text,type";
  if (plainShape && parsed.success && parsed.data.type === "send") assert.fail(`the shortcut declined a plain send zod accepts: ${JSON.stringify(value)}`);
}
