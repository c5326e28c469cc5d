/**
 * Decoding an inbound WebSocket frame at the boundary (PROTOCOL I8), shared by the room and the inbox: text only,
 * at most `maxFrameBytes`, JSON, then the party's zod schema. A failure is the typed error to send back,
 * naming the frame's clientId/requestId when it has one; nothing else happens.
 */
import * as z from "zod/mini";
import { LIMITS } from "./limits.ts";
import type { ErrorFrame } from "./schema.ts";
import { errorFrame } from "./error-frame.ts";

export type Decoded<T> = { ok: true; frame: T } | { ok: false; error: ErrorFrame };
/** A cheaper check for a common shape that answers only what the schema would (plain-send.ts); undefined: ask the schema. */
export type Shortcut<T> = (data: unknown) => T | undefined;

export function decodeFrame<S extends z.core.$ZodType>(raw: string | ArrayBuffer | ArrayBufferView, schema: S, shortcut?: Shortcut<z.infer<S>>): Decoded<z.infer<S>> {
  if (typeof raw !== "string") return { ok: false, error: errorFrame("bad_frame", { message: "Frames are JSON text." }) };
  // A UTF-16 unit is 1 to 3 UTF-8 bytes: a frame longer than the limit in units is too large without
  // encoding it (up to the runtime's 1 MiB, PROTOCOL R11), and only frames between a third of the limit
  // and the limit are encoded to measure.
  if (raw.length > LIMITS.maxFrameBytes || (raw.length > LIMITS.maxFrameBytes / 3 && utf8Bytes(raw) > LIMITS.maxFrameBytes)) {
    return { ok: false, error: errorFrame("frame_too_large", { message: `Frames are at most ${LIMITS.maxFrameBytes} bytes.` }) };
  }
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return { ok: false, error: errorFrame("bad_frame", { message: "The frame is not valid JSON." }) };
  }
  return checkFrame(data, schema, shortcut);
}

/** UTF-8 size of a string as the runtime received it (a lone surrogate was already U+FFFD, 3 bytes). */
function utf8Bytes(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** The schema step alone, for a value already parsed from JSON (each element of a `batch` frame, PROTOCOL R17). */
export function checkFrame<S extends z.core.$ZodType>(data: unknown, schema: S, shortcut?: Shortcut<z.infer<S>>): Decoded<z.infer<S>> {
  const quick = shortcut?.(data);
  if (quick !== undefined) return { ok: true, frame: quick };
  const parsed = z.safeParse(schema, data);
  if (parsed.success) return { ok: true, frame: parsed.data };
  const issue = parsed.error.issues[0];
  const ref = refOf(data);
  const message = issue ? `${issue.path.join(".") || "frame"}: ${issue.message}` : "Invalid frame.";
  return { ok: false, error: errorFrame("bad_frame", { message, ...(ref ? { ref } : {}) }) };
}

/** The clientId or requestId of a frame that failed validation, so the client can match the error. */
function refOf(data: unknown): string | undefined {
  if (typeof data !== "object" || data === null) return undefined;
  const record = data as Record<string, unknown>;
  const ref = record.clientId ?? record.requestId;
  return typeof ref === "string" && ref.length <= 64 ? ref : undefined;
}
