/** A typed error frame from the codes table: one shape (`{code, message, retryable}`) for sockets and HTTP (PROTOCOL I8). */
import { ERROR_TEXTS, ERRORS, type ErrorCode } from "./codes.ts";
import type { ErrorFrame } from "./schema.ts";

export function errorFrame(code: ErrorCode, extra: Partial<Omit<ErrorFrame, "type" | "code" | "retryable">> = {}): ErrorFrame {
  const { message, ...rest } = extra;
  return { type: "error", code, message: message ?? ERROR_TEXTS[code], retryable: ERRORS[code].retryable, ...rest };
}
