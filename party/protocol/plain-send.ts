/**
 * The commonest command, a plain `send` (`{type, clientId, n, text}` and no other key), checked without
 * zod's generic walk. Every other shape, and every plain send this finds anything wrong with, goes on to
 * the schema (`SendCommand` in schema.ts), which stays the definition: this answers only when zod would
 * accept the value and give back an equal one, and it never rejects anything itself (the schema writes
 * every error). tests/fuzz/properties.ts holds it to that on generated and mutated frames.
 *
 * Why: the runtime forbids code generation, so zod 4 cannot compile its object parsers there and walks
 * each schema generically: ~1.3 µs per send, about a tenth of a hot room's thread at 75,000 msgs/s (a
 * `perf` profile of `npm run bench:room -- --batch`, bench/RESULTS.md finding 18). These checks cost a
 * small fraction of that.
 */
import { WIRE_LIMITS } from "./limits.ts";
import { ID_PATTERN, type Command } from "./schema.ts";

type PlainSend = Extract<Command, { type: "send" }>;

/** `value` as a send command if it is a plain one zod would accept unchanged; otherwise undefined (ask zod). */
export function plainSend(value: unknown): PlainSend | undefined {
  if (typeof value !== "object" || value === null || Object.getPrototypeOf(value) !== Object.prototype) return undefined;
  const frame = value as Record<string, unknown>;
  const { type, clientId, n, text } = frame;
  if (type !== "send" || typeof text !== "string") return undefined;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n <= 0) return undefined;
  if (typeof clientId !== "string" || clientId.length === 0 || clientId.length > WIRE_LIMITS.maxClientIdChars || !ID_PATTERN.test(clientId)) return undefined;
  // Exactly these four own keys: anything more (attachments, replyTo, thread, an unknown key zod strips) is the schema's.
  let keys = 0;
  for (const key in frame) {
    if (!Object.hasOwn(frame, key)) return undefined;
    keys++;
  }
  if (keys !== 4) return undefined;
  // A new object, as zod returns: the caller may keep it, and the frame's own object carries nothing else.
  return { type: "send", clientId, n, text };
}
