/**
 * PROTOCOL R22: what a reply shows of its parent, from the parent's current record. Shared by the room (which
 * sends quotes) and the client (which follows a quoted parent's edits and deletions as they arrive).
 */
import { WIRE_LIMITS } from "./limits.ts";
import type { MessageEvent, Quote } from "./schema.ts";

export function quoteOf(parent: MessageEvent): Quote {
  if (parent.deletedBy !== undefined) return { seq: parent.seq, author: parent.author, excerpt: "", deleted: true };
  return { seq: parent.seq, author: parent.author, excerpt: excerpt(parent.text) };
}

/** Whitespace folded, at most quoteExcerptChars characters (code points), an ellipsis when cut. */
export function excerpt(text: string): string {
  const chars = [...text.replace(/\s+/g, " ").trim()];
  return chars.length <= WIRE_LIMITS.quoteExcerptChars ? chars.join("") : `${chars.slice(0, WIRE_LIMITS.quoteExcerptChars - 1).join("")}…`;
}
