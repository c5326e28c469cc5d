/**
 * Uploading a file for a message (PROTOCOL R30, R31): a slot from the room, the bytes straight to object
 * storage under the slot's presigned PUT (with progress where the platform reports it), retried on the same
 * slot after a dropped connection, and signed again if the URL expired meanwhile. The message that names
 * the upload then goes through the room's outbox like any command, so a reconnect resends it with the same
 * clientId and it is accepted once (PROTOCOL I3).
 */
import { UploadSlot, backoffDelay, errorFrame } from "../party/protocol/index.ts";
import { KaiwaError, isErrorCode } from "./errors.ts";

export type UploadProgress = {
  /** The file's name as sent. */
  name: string;
  /** Set once the room made the slot. */
  uploadId?: string;
  loaded: number;
  total: number;
  /** `uploading` while bytes go up (repeated), `uploaded` once stored, `sent` once the message is acked. */
  phase: "uploading" | "uploaded" | "sent";
};

export type UploaderOptions = {
  /** `http(s)://host` of the kaiwa deployment. */
  origin: string;
  room: string;
  token: string | (() => string | Promise<string>);
  onProgress(progress: UploadProgress): void;
  /** How often a dropped PUT is retried on the same slot (default 4). */
  attempts?: number;
};

type XhrLike = {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  send(body: Blob): void;
  upload: { onprogress: ((event: { loaded: number; total: number }) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  status: number;
};

/** Uploads `file` and resolves with its upload id, ready to name in a send. */
export async function uploadFile(file: Blob, name: string, type: string, options: UploaderOptions): Promise<string> {
  let slot = await requestJson(options, "uploads", { name, type, size: file.size }, 201);
  const report = (loaded: number, phase: UploadProgress["phase"] = "uploading") => options.onProgress({ name, uploadId: slot.id, loaded, total: file.size, phase });
  const attempts = options.attempts ?? 4;
  for (let attempt = 0; ; attempt++) {
    report(0);
    const status = await put(slot, file, report).catch(() => 0); // 0: the connection dropped
    if (status >= 200 && status < 300) break;
    if (attempt + 1 >= attempts || (status >= 400 && status < 500 && status !== 403)) throw new KaiwaError("storage_unavailable", `The upload failed (${status || "connection lost"}).`);
    // An expired URL is refused with 403: the same slot, signed again (PROTOCOL R30). Others: wait, then the same URL.
    if (status === 403 || Date.now() >= slot.expiresAt) slot = await requestJson(options, `uploads/${slot.id}/url`, undefined, 200);
    else await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt, { baseMs: 250, capMs: 4000, random: Math.random })));
  }
  report(file.size, "uploaded");
  return slot.id;
}

/** One PUT of the whole file: through XMLHttpRequest where there is one (upload progress), else fetch. */
function put(slot: UploadSlot, file: Blob, report: (loaded: number) => void): Promise<number> {
  const Xhr = (globalThis as { XMLHttpRequest?: new () => XhrLike }).XMLHttpRequest;
  if (!Xhr) return fetch(slot.url, { method: "PUT", headers: slot.headers, body: file }).then(async (response) => (await response.body?.cancel(), response.status));
  return new Promise((resolve, reject) => {
    const xhr = new Xhr();
    xhr.open("PUT", slot.url);
    for (const [header, value] of Object.entries(slot.headers)) xhr.setRequestHeader(header, value);
    xhr.upload.onprogress = (event) => report(event.loaded);
    xhr.onload = () => resolve(xhr.status);
    xhr.onerror = () => reject(new Error("connection lost"));
    xhr.send(file);
  });
}

/** A POST to the room's HTTP routes; a typed refusal becomes a KaiwaError with the room's code. */
async function requestJson(options: UploaderOptions, path: string, body: unknown, expected: number): Promise<UploadSlot> {
  const token = typeof options.token === "string" ? options.token : await options.token();
  const response = await fetch(`${options.origin}/parties/room/${options.room}/${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  }).catch((cause: unknown) => {
    throw new KaiwaError("storage_unavailable", "The room could not be reached for an upload slot.", { cause });
  });
  const answer: unknown = await response.json().catch(() => undefined);
  if (response.status === expected) {
    const slot = UploadSlot.safeParse(answer);
    if (slot.success) return slot.data;
  }
  const error = (answer as { error?: { code?: string; message?: string } } | undefined)?.error;
  const code = error?.code && isErrorCode(error.code) ? error.code : "internal";
  throw KaiwaError.fromFrame(errorFrame(code, error?.message ? { message: error.message } : {}));
}
