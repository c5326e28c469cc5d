import { ERRORS, type ErrorCode, type ErrorFrame } from "../party/protocol/index.ts";

/**
 * Codes the client raises itself, for conditions no server frame describes. Kept in a table with
 * `retryable` like the protocol's own (party/protocol/codes.ts), so callers treat both alike.
 */
export const LOCAL_ERRORS = {
  /** The room closed for good (app close() or a non-retryable refusal) before an answer arrived.
   * For a command this means "outcome unknown": it may have been accepted before the socket died. */
  closed: { retryable: false, text: "The room was closed before the request was answered." },
  /** The app's token getter threw or rejected; the client keeps retrying with backoff. */
  token_unavailable: { retryable: true, text: "The token getter failed." },
} as const satisfies Record<string, { retryable: boolean; text: string }>;

export type LocalErrorCode = keyof typeof LOCAL_ERRORS;
export type KaiwaErrorCode = ErrorCode | LocalErrorCode;

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERRORS, code);
}

function retryableOf(code: KaiwaErrorCode): boolean {
  return isErrorCode(code) ? ERRORS[code].retryable : LOCAL_ERRORS[code].retryable;
}

/**
 * A server code's words come with its error frame (the protocol's ERROR_TEXTS are left out of the client's
 * bundle); an error the client makes of one without words (rare: a close code with no reason) says its code.
 */
function textOf(code: KaiwaErrorCode): string {
  return isErrorCode(code) ? code : LOCAL_ERRORS[code].text;
}

export class KaiwaError extends Error {
  override readonly name = "KaiwaError";
  readonly code: KaiwaErrorCode;
  /** Read from the codes tables, never guessed: true when the same request may succeed later. */
  readonly retryable: boolean;
  /** The clientId (command) or requestId (history) this error answers, if any. */
  readonly ref?: string;
  /** slow_mode: how long to wait; out_of_order: the number the room expects next. */
  readonly retryAfterMs?: number;
  readonly expected?: number;

  constructor(
    code: KaiwaErrorCode,
    message: string = textOf(code),
    extra: { ref?: string; retryAfterMs?: number; expected?: number; cause?: unknown } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.code = code;
    this.retryable = retryableOf(code);
    if (extra.ref !== undefined) this.ref = extra.ref;
    if (extra.retryAfterMs !== undefined) this.retryAfterMs = extra.retryAfterMs;
    if (extra.expected !== undefined) this.expected = extra.expected;
  }

  /** An error frame from the room. The schema types `code` as a string, so it is narrowed, not cast. */
  static fromFrame(frame: ErrorFrame): KaiwaError {
    // A code this client version does not know (a newer server) is reported as `internal` (retryable).
    const code: KaiwaErrorCode = isErrorCode(frame.code) ? frame.code : "internal";
    const message = code === frame.code ? frame.message : `${frame.code}: ${frame.message}`;
    return new KaiwaError(code, message, { ref: frame.ref, retryAfterMs: frame.retryAfterMs, expected: frame.expected });
  }
}
