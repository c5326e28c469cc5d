/**
 * The inspector's live tail: the typed client (client/) in observer mode, so the dashboard watches a room
 * without counting as one of its connections. Events are kept by seq; edits and deletions rewrite the
 * row of their target (a deleted message shows as a tombstone, PROTOCOL I1). DMs are not tailed: operators read
 * them through the audited admin route instead.
 */
import { KaiwaRoom, type Attachment, type RoomEvent } from "../client/index.ts";
import { h, timeText } from "./dom.ts";

/** `fileUrl`: where a file of this room downloads (the room's members-only route, PROTOCOL R32). */
export type TailHandlers = { onDelete(seq: number): void; fileUrl(id: string): string };

export class Tail {
  private readonly room: KaiwaRoom;

  constructor(roomId: string, token: string, private readonly view: EventList, status: HTMLElement) {
    this.room = new KaiwaRoom({ host: location.host, protocol: location.protocol === "https:" ? "wss" : "ws", room: roomId, token, observe: true });
    this.room.on("status", (change) => (status.textContent = `tail: ${change.current}`));
    this.room.on("event", (event) => this.view.show([event]));
    this.room.on("reset", ({ latest }) => {
      this.view.clear();
      this.view.show(latest.events);
    });
    this.room.on("welcome", () => {
      // The last page before the join point, so the tail starts with context.
      this.room.history({ limit: 50 }).then((page) => this.view.show(page.events), () => undefined);
    });
  }

  close(): void {
    this.room.close();
  }
}

/** How many events the list keeps; the page shows the newest 200. Older ones are dropped, so a busy room's tail stays small. */
const KEPT_EVENTS = 1000;

/**
 * Events by seq, newest first; edits and deletions rewrite their target's row. Redrawn at most once per
 * animation frame: a busy room delivers hundreds of events a second, and redrawing for each one would
 * keep the page (and its charts) from ever catching up.
 */
export class EventList {
  private readonly events = new Map<number, RoomEvent>();
  private drawPending = false;

  constructor(
    private readonly list: HTMLElement,
    private readonly handlers: TailHandlers,
  ) {}

  clear(): void {
    this.events.clear();
    this.list.replaceChildren();
  }

  show(events: RoomEvent[]): void {
    for (const event of events) this.add(event);
    if (this.events.size > KEPT_EVENTS + 200) {
      const oldest = [...this.events.keys()].sort((a, b) => a - b).slice(0, this.events.size - KEPT_EVENTS);
      for (const seq of oldest) this.events.delete(seq);
    }
    if (this.drawPending) return;
    this.drawPending = true;
    requestAnimationFrame(() => {
      this.drawPending = false;
      this.render();
    });
  }

  private add(event: RoomEvent): void {
    this.events.set(event.seq, event);
    if (event.kind === "edit" || event.kind === "delete") {
      const target = this.events.get(event.target);
      if (target?.kind === "message") {
        this.events.set(target.seq, event.kind === "edit" ? { ...target, text: event.text, editedBy: event.seq } : { ...target, text: "", deletedBy: event.seq });
      }
    }
  }

  private render(): void {
    const rows = [...this.events.values()].sort((a, b) => b.seq - a.seq).slice(0, 200);
    this.list.replaceChildren(...rows.map((event) => this.row(event)));
  }

  /** Images as thumbnails, other files as links: both through the room's download route. */
  private file(file: Attachment): HTMLElement {
    const href = this.handlers.fileUrl(file.id);
    const label = `${file.name} (${file.type}, ${file.size} bytes${file.width ? `, ${file.width}×${file.height}` : ""})`;
    if (file.type.startsWith("image/")) return h("a", { href, target: "_blank", rel: "noopener", title: label }, h("img", { class: "thumb", src: href, alt: file.name, loading: "lazy" }));
    return h("a", { href, target: "_blank", rel: "noopener", class: "file", text: label });
  }

  private row(event: RoomEvent): HTMLElement {
    const meta = `#${event.seq} ${timeText(event.ts)} ${event.author.name}`;
    const attrs = { class: `event ${event.kind}`, "data-seq": event.seq, "data-kind": event.kind };
    switch (event.kind) {
      case "message": {
        const deleted = event.deletedBy !== undefined;
        return h(
          "li",
          { ...attrs, "data-deleted": deleted },
          h("span", { class: "meta", text: meta }),
          h("span", { class: "text", text: deleted ? `(deleted by #${event.deletedBy})` : event.text }),
          deleted || !event.attachments?.length ? undefined : h("span", { class: "files" }, ...event.attachments.map((file) => this.file(file))),
          deleted ? undefined : h("button", { class: "delete", type: "button", text: "Delete", onclick: () => this.handlers.onDelete(event.seq) }),
        );
      }
      case "edit":
        return h("li", attrs, h("span", { class: "meta", text: meta }), h("span", { class: "text", text: `edited #${event.target}` }));
      case "delete":
        return h("li", attrs, h("span", { class: "meta", text: meta }), h("span", { class: "text", text: `deleted #${event.target}` }));
      case "announcement":
        return h("li", attrs, h("span", { class: "meta", text: meta }), h("span", { class: "badge", text: "notice" }), h("span", { class: "text", text: event.text }));
      case "moderation":
        return h(
          "li",
          attrs,
          h("span", { class: "meta", text: meta }),
          h("span", { class: "text", text: `${event.action} ${event.user}${event.until ? ` until ${timeText(event.until)}` : ""}` }),
        );
      case "group":
        return h("li", attrs, h("span", { class: "meta", text: meta }), h("span", { class: "text", text: `group ${event.action}: ${event.title}` }));
      case "member":
        return h("li", attrs, h("span", { class: "meta", text: meta }), h("span", { class: "text", text: `member ${event.action}: ${event.user}${event.role ? ` (${event.role})` : ""}` }));
      case "reaction":
        return h("li", attrs, h("span", { class: "meta", text: meta }), h("span", { class: "text", text: `${event.action === "add" ? "reacted" : "took back"} ${event.emoji} on #${event.target} (${event.count})` }));
      case "pin":
        return h("li", attrs, h("span", { class: "meta", text: meta }), h("span", { class: "text", text: `${event.action} #${event.target}` }));
    }
  }
}
