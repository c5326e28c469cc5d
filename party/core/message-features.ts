/**
 * What reactions, replies, threads and mentions do to a message record (PROTOCOL R20-R23, R26), as pure
 * functions on plain data. The room core decides with them and writes the rewritten record in the same
 * batch as the event (PROTOCOL I2), so a record always says what its log says.
 */
import { LIMITS, ownValue, type MessageEvent } from "../protocol/index.ts";
export { quoteOf } from "../protocol/index.ts";
import type { Rejection } from "./rejection.ts";

/** The record a reaction leaves behind, the emoji's count after it, and the reacting user's own set. */
export type ReactionChange = { after: MessageEvent; count: number; mine: string[] };

/**
 * PROTOCOL R20: one of each emoji per user, at most `maxReactionsPerMessage` distinct emoji per message.
 * `mine` is the user's current set on this message. Adding one held, or removing one not held, is `no_change`.
 */
export function reactionChange(target: MessageEvent, mine: readonly string[], emoji: string, remove: boolean): ReactionChange | Rejection {
  const counts = { ...(target.reactions ?? {}) };
  const held = mine.includes(emoji);
  if (remove) {
    if (!held) return { code: "no_change", message: "You have no such reaction on this message." };
    const count = (ownValue(counts, emoji) ?? 1) - 1;
    if (count > 0) counts[emoji] = count;
    else delete counts[emoji];
    return { after: withReactions(target, counts), count, mine: mine.filter((e) => e !== emoji) };
  }
  if (held) return { code: "no_change", message: "You already reacted with this emoji." };
  if (ownValue(counts, emoji) === undefined && Object.keys(counts).length >= LIMITS.maxReactionsPerMessage) {
    return { code: "limit_reached", message: `A message holds at most ${LIMITS.maxReactionsPerMessage} distinct reactions.` };
  }
  const count = (ownValue(counts, emoji) ?? 0) + 1;
  counts[emoji] = count;
  return { after: withReactions(target, counts), count, mine: [...mine, emoji] };
}

function withReactions(target: MessageEvent, counts: Record<string, number>): MessageEvent {
  const { reactions: _old, ...rest } = target;
  return Object.keys(counts).length > 0 ? { ...rest, reactions: counts } : rest;
}

/**
 * PROTOCOL R22, R23: a reply or thread parent must be an undeleted message; a thread's parent must be a top-level
 * message (a thread has one level, as in Slack: a reply to a thread reply goes to the same thread).
 */
export function refuseParent(parent: MessageEvent | undefined, seq: number, asThread: boolean): Rejection | undefined {
  if (!parent || parent.kind !== "message" || parent.seq !== seq) return { code: "not_found", message: `No message ${seq} to reply to.` };
  if (parent.deletedBy !== undefined) return { code: "already_deleted", message: `Message ${seq} was deleted.` };
  if (asThread && parent.thread !== undefined) {
    return { code: "not_found", message: `Message ${seq} is itself in the thread of ${parent.thread}: post to thread ${parent.thread}.` };
  }
  return undefined;
}

/** PROTOCOL R23: the thread parent after one more reply. */
export function withReply(parent: MessageEvent, seq: number, ts: number): MessageEvent {
  return { ...parent, replies: { count: (parent.replies?.count ?? 0) + 1, lastSeq: seq, lastTs: ts } };
}

/**
 * PROTOCOL R26: the users a text mentions, from `@id` tokens, kept only when `isMember` says the room knows
 * them (never trusted from the client): distinct, in order of first mention, at most maxMentionsPerMessage.
 */
export function resolveMentions(text: string, isMember: (user: string) => boolean): string[] {
  const out: string[] = [];
  for (const match of text.matchAll(/(?<![A-Za-z0-9_-])@([A-Za-z0-9_-]{1,64})/g)) {
    const user = match[1]!;
    if (out.length >= LIMITS.maxMentionsPerMessage) break;
    if (!out.includes(user) && isMember(user)) out.push(user);
  }
  return out;
}
