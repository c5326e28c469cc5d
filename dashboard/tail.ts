/**
 * The inspector's live tail: the typed client (client/) in observer mode, so the dashboard watches a room
 * without counting as one of its connections. Events are kept by seq; edits and deletions rewrite the
 * row of their target (a deleted message shows as a tombstone, PROTOCOL I1). DMs are not tailed: operators read
 * them through the audited admin route instead.
 */
import { KaiwaRoom, type RoomEvent } from "../client/index.ts";
import { h, timeText } from "./dom.ts";

export type TailHandlers = { onDelete(seq: number): void };

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

/** Events by seq, newest first; edits and deletions rewrite their target's row. */
export class EventList {
  private readonly events = new Map<number, RoomEvent>();

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
    this.render();
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
