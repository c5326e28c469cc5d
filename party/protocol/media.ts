/**
 * Files in messages (PROTOCOL R30-R33): which types a room takes, the upload slot request and answer, and
 * the routes' paths. Runtime-free, shared by the room and the client.
 */
import * as z from "zod/mini";
import { UploadId } from "./schema.ts";

/**
 * The types a room takes: images a chat shows inline, and common documents. Each is recognised from its
 * first bytes (PROTOCOL R31), so a declared type is never taken on trust; text has no signature and is
 * checked as UTF-8 without control bytes instead.
 */
export const IMAGE_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp"] as const;
export const DOCUMENT_TYPES = [
  "application/pdf",
  "application/zip",
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  "application/vnd.openxmlformats-officedocument.presentationml.presentation",
  "application/vnd.oasis.opendocument.text",
  "application/vnd.oasis.opendocument.spreadsheet",
  "audio/mpeg",
  "video/mp4",
  "text/plain",
] as const;
export const ALLOWED_TYPES: readonly string[] = [...IMAGE_TYPES, ...DOCUMENT_TYPES];

export function isImageType(type: string): boolean {
  return (IMAGE_TYPES as readonly string[]).includes(type);
}

/** A file name as shown and offered for download: no path, no control characters, at most 200 characters. */
export const FileName = z.pipe(
  z.pipe(
    z.string(),
    z.transform((name: string) => name.replace(/[\u0000-\u001f\u007f/\\]/g, "_").trim().slice(-200)),
  ),
  z.string().check(z.minLength(1, "a file needs a name")),
);

/** Client → room: `POST /parties/room/<id>/uploads`, asking for a slot (PROTOCOL R30). */
export const UploadRequest = z.object({
  name: FileName,
  type: z.string().check(z.minLength(1), z.maxLength(128)),
  size: z.int().check(z.positive()),
});
export type UploadRequest = z.infer<typeof UploadRequest>;

/**
 * The slot: PUT the file's bytes to `url` with exactly `headers` before `expiresAt` (the signature binds the
 * object, its length and its type), then send a message naming `id`. `POST uploads/<id>/url` re-signs it.
 */
export const UploadSlot = z.object({
  id: UploadId,
  url: z.url(),
  method: z.literal("PUT"),
  headers: z.record(z.string(), z.string()),
  expiresAt: z.int(),
});
export type UploadSlot = z.infer<typeof UploadSlot>;

/** The room-relative path of a file's download route (PROTOCOL R32). */
export const filePath = (uploadId: string): string => `files/${uploadId}`;
