import { z } from "zod";
import { DeleteCommand, EditCommand, LIMITS, SendCommand } from "../party/protocol/index.ts";
import type { CommandBody } from "./outbox.ts";
import { KaiwaError } from "./errors.ts";

// The command schemas without the fields the outbox assigns: the app's input is checked at the
// boundary, before it takes a number, so a malformed command never sits in the outbox being resent.
const omitted = { clientId: true, n: true } as const;
const CommandBodySchema = z.discriminatedUnion("type", [
  SendCommand.omit(omitted),
  EditCommand.omit(omitted),
  DeleteCommand.omit(omitted),
]);

/** Largest id and counter the frame can carry, for a size bound that holds whatever the outbox assigns. */
const WORST_CASE_IDS = { clientId: "x".repeat(LIMITS.maxClientIdChars), n: Number.MAX_SAFE_INTEGER };

/**
 * Parses a command body, or returns the KaiwaError the room would answer with. Frame size matters most:
 * the room cannot name the command in a frame_too_large reply (it does not parse it), so without this
 * check the command would never be answered and would be resent on every reconnect.
 */
export function checkCommand(input: CommandBody): { ok: true; body: CommandBody } | { ok: false; error: KaiwaError } {
  const parsed = CommandBodySchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join(".") || "command";
    return { ok: false, error: new KaiwaError("bad_frame", `${where}: ${issue?.message ?? "invalid command"}`) };
  }
  const bytes = new TextEncoder().encode(JSON.stringify({ ...parsed.data, ...WORST_CASE_IDS })).length;
  if (bytes > LIMITS.maxFrameBytes) {
    return { ok: false, error: new KaiwaError("frame_too_large", `The command is ${bytes} bytes; frames are at most ${LIMITS.maxFrameBytes}.`) };
  }
  return { ok: true, body: parsed.data };
}
