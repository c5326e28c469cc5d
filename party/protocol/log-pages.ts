/**
 * The room's log over plain HTTP (PROTOCOL R40-R44): what a poller, a CDN or a client without a WebSocket
 * reads and posts. Paths, documents and the REST post body, shared by the worker (which lets anonymous
 * reads of these paths through), the room and clients. Runtime-free.
 *
 * - `GET /parties/room/<id>/log/latest`: the newest events and the sealed pages before them (PROTOCOL R41).
 * - `GET /parties/room/<id>/log/page/<n>`: a redirect to page n's current version (PROTOCOL R42).
 * - `GET /parties/room/<id>/log/page/<n>/<epoch>/<version>`: sealed page n, immutable (PROTOCOL R42).
 * - `POST /parties/room/<id>/messages`: a message posted over HTTP (PROTOCOL R44).
 */
import * as z from "zod/mini";
import { ClientId, RoomEvent } from "./schema.ts";

/** Seqs per page: page n (from 1) holds seqs (n-1)·100+1 … n·100. Fixed, so a page's URL names the same seqs forever. */
export const LOG_PAGE_SIZE = 100;
/** Sealed pages `latest` names directly, newest first; older ones are reached by their redirect (PROTOCOL R42). */
export const LATEST_NAMED_PAGES = 10;

/** The page holding `seq`. */
export const pageOf = (seq: number): number => Math.ceil(seq / LOG_PAGE_SIZE);
/** The seqs of page `n`: `from` … `through`, both included. */
export const pageSeqs = (n: number): { from: number; through: number } => ({ from: (n - 1) * LOG_PAGE_SIZE + 1, through: n * LOG_PAGE_SIZE });
/** Whether page `n` is sealed: every one of its seqs is committed, so only moderation changes it (PROTOCOL R42). */
export const isSealed = (n: number, committedSeq: number): boolean => n >= 1 && pageSeqs(n).through <= committedSeq;

export type LogPath = { kind: "latest" } | { kind: "page"; page: number } | { kind: "version"; page: number; epoch: string; version: number };

const positive = /^[1-9][0-9]{0,14}$/;
const counter = /^(0|[1-9][0-9]{0,14})$/;
const epochPattern = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * What a room path below `/parties/room/<id>/` asks for, when it is a log read: `rest` is the path's
 * segments after the room id. Undefined for any other route; `"bad"` for a log path that is malformed.
 */
export function parseLogPath(rest: string[]): LogPath | "bad" | undefined {
  if (rest[0] !== "log") return undefined;
  if (rest.length === 2 && rest[1] === "latest") return { kind: "latest" };
  if (rest[1] !== "page" || !positive.test(rest[2] ?? "")) return "bad";
  const page = Number(rest[2]);
  if (rest.length === 3) return { kind: "page", page };
  if (rest.length === 5 && epochPattern.test(rest[3]!) && counter.test(rest[4]!)) return { kind: "version", page, epoch: rest[3]!, version: Number(rest[4]) };
  return "bad";
}

/** The segments after `/parties/room/<id>/` of a URL path, or undefined when it is no room path. */
export function roomPathRest(pathname: string): { roomId: string; rest: string[] } | undefined {
  const parts = pathname.split("/");
  if (parts[1] !== "parties" || parts[2] !== "room" || !parts[3]) return undefined;
  return { roomId: parts[3], rest: parts.slice(4) };
}

export const latestPath = (roomId: string): string => `/parties/room/${roomId}/log/latest`;
export const pagePath = (roomId: string, page: number): string => `/parties/room/${roomId}/log/page/${page}`;
export const versionPath = (roomId: string, page: number, epoch: string, version: number): string => `${pagePath(roomId, page)}/${epoch}/${version}`;

/** A sealed page as `latest` names it: its seqs, its current version and the URL of that version. */
export const NamedPage = z.object({ page: z.int().check(z.positive()), from: z.int().check(z.positive()), through: z.int().check(z.positive()), version: z.int().check(z.nonnegative()), url: z.string() });
export type NamedPage = z.infer<typeof NamedPage>;

/** `GET …/log/latest` (PROTOCOL R41). */
export const LatestDocument = z.object({
  room: z.string(),
  epoch: z.string(),
  /** The room's committed seq (PROTOCOL I2): nothing above it is shown. */
  lastSeq: z.int().check(z.nonnegative()),
  pageSize: z.int().check(z.positive()),
  pollIntervalMs: z.int().check(z.positive()),
  /** The page being filled: the one holding lastSeq + 1. */
  openPage: z.int().check(z.positive()),
  /** The newest events (seq > lastSeq − pageSize), ascending, each as stored and moderated (PROTOCOL R43). */
  events: z.array(RoomEvent),
  /** The newest sealed pages (at most LATEST_NAMED_PAGES), newest first, with their current versions. */
  pages: z.array(NamedPage),
});
export type LatestDocument = z.infer<typeof LatestDocument>;

/** `GET …/log/page/<n>/<epoch>/<version>` (PROTOCOL R42). */
export const PageDocument = z.object({
  room: z.string(),
  epoch: z.string(),
  page: z.int().check(z.positive()),
  from: z.int().check(z.positive()),
  through: z.int().check(z.positive()),
  version: z.int().check(z.nonnegative()),
  events: z.array(RoomEvent),
});
export type PageDocument = z.infer<typeof PageDocument>;

/**
 * `POST …/messages` (PROTOCOL R44): a `send` without the socket's numbering; the clientId alone makes a retry
 * safe (PROTOCOL I3). Text only: a file is attached over a socket, where the room checks its upload first
 * (PROTOCOL R31); a body naming attachments is refused (`bad_frame`) rather than stripped of them.
 */
export const PostBody = z.strictObject({
  clientId: ClientId,
  text: z.string(),
});
export type PostBody = z.infer<typeof PostBody>;

/** What a post answers once durable: its seq and ts; `duplicate` when a retry got the original's. */
export const PostAnswer = z.object({ seq: z.int().check(z.positive()), ts: z.number(), duplicate: z.optional(z.literal(true)) });
export type PostAnswer = z.infer<typeof PostAnswer>;
