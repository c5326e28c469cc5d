import * as z from "zod/mini";
import { Command, DmCommand, WIRE_LIMITS } from "../party/protocol/index.ts";
import type { CommandBody } from "./outbox.ts";
import { KaiwaError } from "./errors.ts";

export type DmBody = Omit<z.infer<typeof DmCommand>, "clientId" | "n">;

/** Largest id and counter the frame can carry, for a size bound that holds whatever the outbox assigns. */
const WORST_CASE_IDS = { clientId: "x".repeat(WIRE_LIMITS.maxClientIdChars), n: Number.MAX_SAFE_INTEGER };

type Checked<B> = { ok: true; body: B } | { ok: false; error: KaiwaError };
/** A command without the fields the outbox assigns, member by member of a union. */
type WithoutIds<T> = T extends unknown ? Omit<T, "clientId" | "n"> : never;

/**
 * Parses a command body, or returns the KaiwaError the server would answer with. The app's input is checked
 * at the boundary, before it takes a number, so a malformed command never sits in the outbox being resent.
 * It is checked with the protocol's own command schema, filled with the largest clientId and number the
 * outbox could give it: one schema for client and room, and the size bound holds whatever is assigned.
 * Frame size matters most: the server cannot name the command in a frame_too_large reply (it does not
 * parse it), so without this check the command would never be answered and would be resent on every reconnect.
 */
function checkBody<S extends z.core.$ZodType<{ clientId: string; n: number }>>(schema: S, input: object): Checked<WithoutIds<z.infer<S>>> {
  const parsed = z.safeParse(schema, { ...input, ...WORST_CASE_IDS });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join(".") || "command";
    return { ok: false, error: new KaiwaError("bad_frame", `${where}: ${issue ? describeIssue(issue) : "invalid command"}`) };
  }
  const bytes = new TextEncoder().encode(JSON.stringify(parsed.data)).length;
  if (bytes > WIRE_LIMITS.maxFrameBytes) {
    return { ok: false, error: new KaiwaError("frame_too_large", `The command is ${bytes} bytes; frames are at most ${WIRE_LIMITS.maxFrameBytes}.`) };
  }
  return { ok: true, body: withoutIds(parsed.data) };
}

/** The body without the fields the outbox assigns. TypeScript cannot carry a rest pattern through each member of
 * a union, so the type is stated here; the value is the parsed command minus those two fields. */
function withoutIds<T extends { clientId: string; n: number }>(command: T): WithoutIds<T> {
  const { clientId: _clientId, n: _n, ...body } = command;
  return body as WithoutIds<T>;
}

/** A room command (send, edit, delete, group membership). */
export function checkCommand(input: CommandBody): Checked<CommandBody> {
  return checkBody(Command, input);
}

/** An inbox DM. */
export function checkDm(input: DmBody): Checked<DmBody> {
  return checkBody(DmCommand, input);
}

/**
 * zod/mini loads no messages (zod's English would add 1 KiB gzipped to the browser bundle), so an issue
 * without its own message ("Invalid input") is told by its code and bound: "text: too_big (at most 4000)".
 * A schema's own message (e.g. an id's "only letters, digits, _ and - (and not __proto__)"), or English an app loaded, is kept.
 */
function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.message !== "Invalid input") return issue.message;
  const bound = "maximum" in issue ? ` (at most ${issue.maximum})` : "minimum" in issue ? ` (at least ${issue.minimum})` : "expected" in issue ? ` (expected ${issue.expected})` : "";
  return issue.code + bound;
}
