/**
 * The room inspector: live detail (polled from the room itself, so the connection count is the room's
 * own), the live tail, and the operator actions. Every action goes through the typed admin client;
 * its answer (the seq the action got, or the typed error) is shown in the status line.
 */
import { KaiwaAdmin, type RoomDetail } from "../client/admin.ts";
import { KaiwaError } from "../client/index.ts";
import { $, h, input, timeText } from "./dom.ts";
import { EventList, Tail } from "./tail.ts";
import { ChartGroup } from "./charts.ts";

const DETAIL_POLL_MS = 500;
const CHART_POLL_MS = 1000;

export class Inspector {
  private tail: Tail | undefined;
  private readonly view: EventList;
  private timer: ReturnType<typeof setInterval> | undefined;
  private chartTimer: ReturnType<typeof setInterval> | undefined;
  private readonly charts: ChartGroup;
  private roomId = "";

  constructor(
    private readonly admin: KaiwaAdmin,
    private readonly token: string,
    private readonly root: HTMLElement,
  ) {
    root.querySelector("form.announce")!.addEventListener("submit", (e) => this.submit(e, () => this.announce()));
    root.querySelector("form.moderate")!.addEventListener("submit", (e) => this.submit(e, () => this.moderate()));
    root.querySelector("form.settings")!.addEventListener("submit", (e) => this.submit(e, () => this.saveSettings()));
    root.querySelector("form.scale")!.addEventListener("submit", (e) => this.submit(e, () => this.saveScale()));
    $("button.read-dm", root).addEventListener("click", () => void this.readAudited());
    this.view = new EventList($(".events", root), {
      onDelete: (seq) => void this.deleteMessage(seq),
      // The room's download route (PROTOCOL R32): a redirect to a short-lived signed URL of the file.
      fileUrl: (id) => `/parties/room/${this.roomId}/files/${id}?token=${encodeURIComponent(this.token)}`,
    });
    this.charts = new ChartGroup("room", $("#room-charts", root));
  }

  open(roomId: string): void {
    if (roomId === this.roomId) return;
    this.close();
    this.roomId = roomId;
    this.root.hidden = false;
    $("[data-testid=room-id]", this.root).textContent = roomId;
    this.view.clear();
    this.setStatus("");
    const isDm = roomId.startsWith("dm:") || roomId.startsWith("dm%3A");
    $("button.read-dm", this.root).hidden = !isDm;
    $("[data-testid=tail-status]", this.root).textContent = isDm ? "tail: off for DMs (reads are audited)" : "tail: connecting";
    if (!isDm) this.tail = new Tail(roomId, this.token, this.view, $("[data-testid=tail-status]", this.root));
    void this.refresh(true);
    this.timer = setInterval(() => void this.refresh(false), DETAIL_POLL_MS);
    this.charts.clear();
    void this.refreshCharts();
    this.chartTimer = setInterval(() => void this.refreshCharts(), CHART_POLL_MS);
  }

  close(): void {
    this.tail?.close();
    this.tail = undefined;
    if (this.timer) clearInterval(this.timer);
    if (this.chartTimer) clearInterval(this.chartTimer);
    this.roomId = "";
  }

  private async refresh(fillSettings: boolean): Promise<void> {
    const roomId = this.roomId;
    try {
      const detail = await this.admin.detail(roomId);
      if (roomId === this.roomId) this.show(detail, fillSettings);
    } catch (error) {
      this.setStatus(`detail failed: ${describe(error)}`, true);
    }
  }

  /** The room's chart history from the directory (a room that never reported has none yet). */
  private async refreshCharts(): Promise<void> {
    const roomId = this.roomId;
    const status = $("[data-testid=chart-status]", this.root);
    try {
      const series = await this.admin.series(roomId);
      if (roomId !== this.roomId) return;
      this.charts.show(series);
      status.textContent = "";
    } catch (error) {
      if (roomId !== this.roomId) return;
      status.textContent = error instanceof KaiwaError && error.code === "not_found" ? "charts: no report from this room yet" : `charts failed: ${describe(error)}`;
    }
  }

  private show(d: RoomDetail, fillSettings: boolean): void {
    const set = (id: string, value: string | number) => ($(`[data-testid=${id}]`, this.root).textContent = String(value));
    set("kind", d.kind);
    set("connections", d.connections);
    set("observers", d.observers);
    set("last-seq", d.lastSeq);
    set("epoch", d.epoch);
    set("rate", d.messagesPerSecond);
    set("archive-lag", d.archiveLag);
    set("storage", d.storage ? `${d.storage.files} · ${bytesText(d.storage.bytes)}` : "–");
    $(".members", this.root).replaceChildren(...d.members.map((m) => h("li", { text: `${m.name} (${m.id}) × ${m.connections}` })));
    $(".restrictions", this.root).replaceChildren(
      ...d.restrictions.map((r) =>
        h("li", { text: `${r.user}: ${r.banUntil ? `banned until ${timeText(r.banUntil)}` : ""} ${r.muteUntil ? `muted until ${timeText(r.muteUntil)}` : ""}` }),
      ),
    );
    // Live rooms (PROTOCOL R52, R53): viewers on the relays, shards, the room's own sockets, and the scale form.
    ($(".scale", this.root) as HTMLElement).hidden = !d.live;
    if (d.live) set("live-stats", `${d.live.shards} shards, ${d.live.relays} relays subscribed, ${d.live.relayViewers} viewers on relays, ${d.live.roomSockets} on the room`);
    if (fillSettings && d.live) {
      input(this.root, "shards").value = String(d.settings.shards ?? 0);
      (input(this.root, "autoShards") as HTMLInputElement).checked = d.settings.autoShards === true;
      input(this.root, "viewersPerShard").value = String(d.settings.viewersPerShard ?? 10_000);
      input(this.root, "hosts").value = (d.settings.hosts ?? []).join(", ");
    }
    if (fillSettings) {
      input(this.root, "maxTextChars").value = String(d.settings.maxTextChars);
      input(this.root, "slowModeMs").value = String(d.settings.slowModeMs);
      input(this.root, "whoMayPost").value = d.settings.whoMayPost;
    }
  }

  private async deleteMessage(seq: number): Promise<void> {
    try {
      const result = await this.admin.deleteMessage(this.roomId, seq);
      this.setStatus(`deleted #${seq} (tombstone event #${result.seq})`);
    } catch (error) {
      this.setStatus(`delete failed: ${describe(error)}`, true);
    }
  }

  private async announce(): Promise<string> {
    const field = input(this.root, "announcement");
    const result = await this.admin.announce(this.roomId, field.value);
    field.value = "";
    return `announced as #${result.seq}`;
  }

  private async moderate(): Promise<string> {
    const user = input(this.root, "user").value.trim();
    const action = input(this.root, "action").value as "ban" | "unban" | "mute" | "unmute";
    const minutes = Number(input(this.root, "minutes").value);
    const timed = action === "ban" || action === "mute";
    const result = await this.admin.moderate(this.roomId, { user, action, ...(timed ? { durationMs: Math.round(minutes * 60_000) } : {}) });
    return `${action} ${user} as #${result.seq}`;
  }

  private async saveSettings(): Promise<string> {
    const settings = await this.admin.settings(this.roomId, {
      maxTextChars: Number(input(this.root, "maxTextChars").value),
      slowModeMs: Number(input(this.root, "slowModeMs").value),
      whoMayPost: input(this.root, "whoMayPost").value === "operators" ? "operators" : "everyone",
    });
    return `settings saved: max ${settings.maxTextChars} chars, slow mode ${settings.slowModeMs} ms, ${settings.whoMayPost} may post`;
  }

  private async saveScale(): Promise<string> {
    const hosts = input(this.root, "hosts").value.split(",").map((s) => s.trim()).filter(Boolean);
    const settings = await this.admin.settings(this.roomId, {
      shards: Number(input(this.root, "shards").value),
      autoShards: (input(this.root, "autoShards") as HTMLInputElement).checked,
      viewersPerShard: Number(input(this.root, "viewersPerShard").value),
      hosts,
    });
    return `scale saved: ${settings.autoShards ? "automatic, at least " : ""}${settings.shards ?? 0} shards; hosts ${(settings.hosts ?? []).join(", ") || "none"}`;
  }

  /** DMs: the last page through the admin route, which writes an audit record before answering. */
  private async readAudited(): Promise<void> {
    try {
      const page = await this.admin.messages(this.roomId, { limit: 50 });
      this.view.show(page.events);
      this.setStatus(`read ${page.events.length} events (audited)`);
    } catch (error) {
      this.setStatus(`read failed: ${describe(error)}`, true);
    }
  }

  private async submit(event: Event, run: () => Promise<string>): Promise<void> {
    event.preventDefault();
    try {
      this.setStatus(await run());
    } catch (error) {
      this.setStatus(describe(error), true);
    }
  }

  private setStatus(text: string, error = false): void {
    const el = $("[data-testid=action-status]", this.root);
    el.textContent = text;
    el.classList.toggle("error", error);
  }
}

function describe(error: unknown): string {
  if (error instanceof KaiwaError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/** A storage size as people read it: 0 B, 12.3 KB, 4.5 MB, 1.2 GB. */
function bytesText(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}
