import * as z from "zod/mini";
import { CLOSE_CODES, ServerFrame } from "../party/protocol/index.ts";

/** Parses one inbound text frame with a shared schema: zod at the boundary, never a cast (PROTOCOL I8). */
export function parseFrame<S extends z.core.$ZodType>(schema: S, data: unknown): { ok: true; frame: z.infer<S> } | { ok: false; what: string } {
  if (typeof data !== "string") return { ok: false, what: "a binary frame" };
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return { ok: false, what: "a frame that is not JSON" };
  }
  const parsed = z.safeParse(schema, json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, what: `an invalid frame (${issue ? `${issue.path.join(".")}: ${issue.message}` : "no detail"})` };
  }
  return { ok: true, frame: parsed.data };
}

/** A room's frames. */
export function parseServerFrame(data: unknown): { ok: true; frame: ServerFrame } | { ok: false; what: string } {
  return parseFrame(ServerFrame, data);
}

/** Names a close code from the shared table (e.g. 4001 → "unauthorized") and words a status reason. */
export function describeClose(code: number, why: string): { name: string | undefined; reason: string } {
  const name = Object.entries(CLOSE_CODES).find(([key]) => Number(key) === code)?.[1].name;
  return { name, reason: `closed ${code}${name ? ` ${name}` : ""}${why ? `: ${why}` : ""}` };
}
