/**
 * A typed client for the operator admin API (`/admin/*`, party/admin/routes.ts), for the dashboard and
 * for scripts. Answers are parsed with the same zod schemas the server uses; a refusal becomes a
 * KaiwaError with the server's code (401 unauthorized, 403 forbidden, 400 bad_frame, ...).
 * Web-standard fetch only: browsers, Node, Deno and Bun.
 */
import { z } from "zod";
import { RoomEvent, RoomSettings, RoomSettingsPatch as RoomSettingsPatchSchema } from "../party/protocol/index.ts";

type RoomSettingsPatch = z.infer<typeof RoomSettingsPatchSchema>;
import { ActionResult, AuditRecord, ChartSeries, Overview, RoomDetail, RoomList, type ModerateBody, type RoomEntry } from "../party/protocol/admin-schema.ts";
import { KaiwaError, isErrorCode } from "./errors.ts";

export type { ActionResult, AuditRecord, ChartSeries, Overview, RoomDetail, RoomEntry, ModerateBody };

const EventPage = z.object({ events: z.array(RoomEvent), hasMore: z.boolean() });
const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

export type KaiwaAdminOptions = {
  /** Base URL of the kaiwa server, e.g. `http://127.0.0.1:1999` (or "" for same-origin in a browser). */
  baseUrl: string;
  /** An operator token (platform role `operator`), or a getter called per request. */
  token: string | (() => string | Promise<string>);
  fetch?: typeof fetch;
};

/** A message's versions as `GET /admin/rooms/<id>/edits` answers them (PROTOCOL R25). */
const EditHistory = z.object({
  seq: z.number().int(),
  author: z.object({ id: z.string(), name: z.string() }),
  versions: z.array(z.object({ seq: z.number().int(), ts: z.number().int(), text: z.string(), deletedBy: z.number().int().optional() })),
});

export class KaiwaAdmin {
  constructor(private readonly options: KaiwaAdminOptions) {}

  async rooms(options: { q?: string; limit?: number } = {}): Promise<{ rooms: RoomEntry[]; total: number }> {
    return RoomList.parse(await this.call("GET", `/admin/rooms${search(options)}`));
  }

  async detail(room: string): Promise<RoomDetail> {
    return RoomDetail.parse(await this.call("GET", `/admin/rooms/${room}`));
  }

  async messages(room: string, options: { before?: number; limit?: number } = {}): Promise<z.infer<typeof EventPage>> {
    return EventPage.parse(await this.call("GET", `/admin/rooms/${room}/messages${search(options)}`));
  }

  /** PROTOCOL R25: every version of message `seq`, oldest first (the room audits the read). */
  async edits(room: string, seq: number): Promise<z.infer<typeof EditHistory>> {
    return EditHistory.parse(await this.call("GET", `/admin/rooms/${room}/edits${search({ seq })}`));
  }

  async audit(room: string, limit?: number): Promise<AuditRecord[]> {
    return z.object({ records: z.array(AuditRecord) }).parse(await this.call("GET", `/admin/rooms/${room}/audit${search({ limit })}`)).records;
  }

  async deleteMessage(room: string, target: number, clientId?: string): Promise<ActionResult> {
    return ActionResult.parse(await this.call("POST", `/admin/rooms/${room}/delete`, { target, ...(clientId ? { clientId } : {}) }));
  }

  async announce(room: string, text: string, clientId?: string): Promise<ActionResult> {
    return ActionResult.parse(await this.call("POST", `/admin/rooms/${room}/announce`, { text, ...(clientId ? { clientId } : {}) }));
  }

  async moderate(room: string, body: ModerateBody): Promise<ActionResult> {
    return ActionResult.parse(await this.call("POST", `/admin/rooms/${room}/moderate`, body));
  }

  async settings(room: string, patch: RoomSettingsPatch): Promise<RoomSettings> {
    return z.object({ settings: RoomSettings }).parse(await this.call("PATCH", `/admin/rooms/${room}/settings`, patch)).settings;
  }

  /** The system at a glance (rooms, connections, msgs/s, archive lag, errors by code). */
  async overview(): Promise<Overview> {
    return Overview.parse(await this.call("GET", "/admin/overview"));
  }

  /** The last minutes in slots, for charts: one room, or the whole system without `room`. */
  async series(room?: string): Promise<ChartSeries> {
    return ChartSeries.parse(await this.call("GET", `/admin/series${search({ room })}`));
  }

  async metrics(): Promise<string> {
    return String(await this.call("GET", "/admin/metrics", undefined, true));
  }

  private async call(method: string, path: string, body?: unknown, text = false): Promise<unknown> {
    const source = this.options.token;
    const token = typeof source === "string" ? source : await source();
    const doFetch = this.options.fetch ?? fetch;
    const response = await doFetch(this.options.baseUrl + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const raw = await response.text();
    if (response.ok) return text ? raw : JSON.parse(raw);
    const error = ErrorBody.safeParse(safeJson(raw));
    if (!error.success) throw new KaiwaError("internal", `HTTP ${response.status}`);
    const { code, message } = error.data.error;
    throw new KaiwaError(isErrorCode(code) ? code : "internal", message);
  }
}

function search(params: Record<string, string | number | undefined>): string {
  const entries = Object.entries(params).filter((e): e is [string, string | number] => e[1] !== undefined);
  return entries.length ? `?${new URLSearchParams(entries.map(([k, v]) => [k, String(v)]))}` : "";
}

function safeJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}
