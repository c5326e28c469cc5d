/**
 * `kaiwa/client/files`: sending a file with a message (PROTOCOL R30, R31). Its own entry, outside the
 * `kaiwa/client` bundle (PROTOCOL R76), so an app without attachments does not carry the upload code and its
 * schemas: `import { sendFile } from "kaiwa/client/files"`.
 */
import type { KaiwaRoom, SendResult } from "./room.ts";
import { KaiwaError } from "./errors.ts";
import { httpOrigin } from "./hosts.ts";
import { uploadFile, type UploadProgress } from "./uploads.ts";
import { backoffDelay } from "../party/protocol/index.ts";

export type { UploadProgress } from "./uploads.ts";

/**
 * A send the room refused with `storage_unavailable` is retried this many times, after the shared full-jitter
 * backoff (protocol/backoff.ts) with windows of 1, 2 and 4 s: the mean waits of the fixed 0.5, 1 and 2 s it
 * replaced, spread so clients hit by one storage outage do not retry in one wave.
 */
const STORAGE_RETRIES = 3;
const STORAGE_BACKOFF = { baseMs: 1_000, capMs: 4_000 } as const;

export type SendFileOptions = {
  /** The message's text (default none: a file alone is a message). */
  text?: string;
  /** Default: the File's name, else "file". */
  name?: string;
  /** Default: the Blob's type, else application/octet-stream. */
  type?: string;
  /** Bytes up (repeated), stored, then the message acked. */
  onProgress?: (progress: UploadProgress) => void;
};

/**
 * Uploads `file` straight to the deployment's object storage and sends a message in `room` naming it. A
 * dropped upload is retried on the same slot; the message goes through the room's outbox, so a reconnect
 * resends it and it is accepted once. `storage_unavailable` (the room could not reach the store to check
 * the file) is retried a few times with backoff; other refusals reject.
 */
export async function sendFile(room: KaiwaRoom, file: Blob, options: SendFileOptions = {}): Promise<SendResult> {
  // A closed room's send rejects at once, without sending, with the reason it closed (e.g. `banned`).
  if (room.status === "closed") return room.send("");
  const { host, protocol, room: roomId, token } = room.options;
  const name = options.name ?? (file as Blob & { name?: string }).name ?? "file";
  const type = options.type ?? (file.type || "application/octet-stream");
  const onProgress = options.onProgress ?? (() => undefined);
  const id = await uploadFile(file, name, type, { origin: httpOrigin(host, protocol), room: roomId, token, onProgress });
  for (let attempt = 0; ; attempt++) {
    try {
      const sent = await room.send(options.text ?? "", { attachments: [{ upload: id }] });
      onProgress({ name, uploadId: id, loaded: file.size, total: file.size, phase: "sent" });
      return sent;
    } catch (error) {
      if (!(error instanceof KaiwaError) || error.code !== "storage_unavailable" || attempt >= STORAGE_RETRIES) throw error;
      await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt, STORAGE_BACKOFF)));
    }
  }
}
