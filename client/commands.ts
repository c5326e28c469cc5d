import { z } from "zod";
import {
  DeleteCommand,
  DmCommand,
  EditCommand,
  GroupCreateCommand,
  GroupLeaveCommand,
  GroupRenameCommand,
  LIMITS,
  MemberAddCommand,
  MemberRemoveCommand,
  MemberRoleCommand,
  PinCommand,
  ReactCommand,
  SendCommand,
} from "../party/protocol/index.ts";
import type { CommandBody } from "./outbox.ts";
import { KaiwaError } from "./errors.ts";

// The command schemas without the fields the outbox assigns: the app's input is checked at the
// boundary, before it takes a number, so a malformed command never sits in the outbox being resent.
const omitted = { clientId: true, n: true } as const;
const CommandBodySchema = z.discriminatedUnion("type", [
  SendCommand.omit(omitted),
  EditCommand.omit(omitted),
  DeleteCommand.omit(omitted),
  ReactCommand.omit(omitted),
  PinCommand.omit(omitted),
  GroupCreateCommand.omit(omitted),
  GroupRenameCommand.omit(omitted),
  MemberAddCommand.omit(omitted),
  MemberRemoveCommand.omit(omitted),
  MemberRoleCommand.omit(omitted),
  GroupLeaveCommand.omit(omitted),
]);
const DmBodySchema = DmCommand.omit(omitted);
export type DmBody = z.infer<typeof DmBodySchema>;

/** Largest id and counter the frame can carry, for a size bound that holds whatever the outbox assigns. */
const WORST_CASE_IDS = { clientId: "x".repeat(LIMITS.maxClientIdChars), n: Number.MAX_SAFE_INTEGER };

type Checked<B> = { ok: true; body: B } | { ok: false; error: KaiwaError };

/**
 * Parses a command body, or returns the KaiwaError the server would answer with. Frame size matters most:
 * the server cannot name the command in a frame_too_large reply (it does not parse it), so without this
 * check the command would never be answered and would be resent on every reconnect.
 */
function checkBody<S extends z.ZodType>(schema: S, input: unknown): Checked<z.infer<S>> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join(".") || "command";
    return { ok: false, error: new KaiwaError("bad_frame", `${where}: ${issue?.message ?? "invalid command"}`) };
  }
  const bytes = new TextEncoder().encode(JSON.stringify({ ...(parsed.data as object), ...WORST_CASE_IDS })).length;
  if (bytes > LIMITS.maxFrameBytes) {
    return { ok: false, error: new KaiwaError("frame_too_large", `The command is ${bytes} bytes; frames are at most ${LIMITS.maxFrameBytes}.`) };
  }
  return { ok: true, body: parsed.data };
}

/** A room command (send, edit, delete, group membership). */
export function checkCommand(input: CommandBody): Checked<CommandBody> {
  return checkBody(CommandBodySchema, input);
}

/** An inbox DM. */
export function checkDm(input: DmBody): Checked<DmBody> {
  return checkBody(DmBodySchema, input);
}
