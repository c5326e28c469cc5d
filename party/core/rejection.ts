/** Why the core refused a command: the typed error the shell turns into an error frame (PROTOCOL I8). */
import type { ErrorCode } from "../protocol/index.ts";

export type Rejection = { code: ErrorCode; message?: string; expected?: number; retryAfterMs?: number };
