/**
 * One open conversation (a DM or a group): its own KaiwaRoom for history that scrolls back (the room's log,
 * then the archive: the same `history()` call), live events, typing, who is here, and read receipts.
 */
import { KaiwaError, KaiwaRoom, type RoomEvent } from "../../client/index.ts";
import { h, time } from "./dom.ts";

const PAGE = 30;

export class ConversationView {
  readonly room: KaiwaRoom;
  readonly element: HTMLElement;
  readonly #rows = new Map<number, HTMLLIElement>();
  readonly #list = h("ol", { class: "messages", "data-testid": "messages" });
  readonly #typing = h("p", { class: "typing", "data-testid": "typing" });
  readonly #here = h("small", { "data-testid": "here" });
  readonly #title = h("h2", { "data-testid": "title" });
  readonly #status = h("p", { class: "status", "data-testid": "conversation-status" });
  #hasMore = true;
  #loading = false;
  #loadedOnce = false;
  #lastOwn = 0;
  #readAsked = 0;

  constructor(readonly id: string, private readonly me: string, title: string, options: { host: string; token: () => string }) {
    this.room = new KaiwaRoom({ host: options.host, room: id, token: options.token });
    this.room.on("event", (event) => this.#add(event, "live"));
    // The room could not replay what this tab missed (too far behind): start again from its latest page.
    this.room.on("reset", ({ latest }) => {
      this.#rows.clear();
      this.#list.replaceChildren();
      this.#hasMore = latest.hasMore;
      for (const event of latest.events) this.#add(event, "history");
      this.#scrollToEnd();
    });
    this.room.on("receipts", () => this.#showReceipt());
    this.room.on("presence", () => this.#showHere());
    this.room.on("status", () => this.#showHere());
    this.room.on("welcome", () => {
      if (this.room.members.title) this.#title.textContent = this.room.members.title; // a group opened from a link
      this.#showHere();
    });
    this.room.on("typing", (users) => this.#showTyping(users));
    this.#list.addEventListener("scroll", () => {
      if (this.#list.scrollTop < 80) void this.#loadOlder();
    });
    document.addEventListener("visibilitychange", this.#markRead);
    // An app-defined status over awareness (PROTOCOL R75): "away" while this tab is hidden.
    this.room.on("awareness", () => this.#showHere());
    document.addEventListener("visibilitychange", this.#away);
    this.#away();
    void this.#loadOlder();
    this.#title.textContent = title;
    this.element = h(
      "section",
      { class: "conversation", "data-room": id },
      h("header", {}, this.#title, this.#here),
      this.#list,
      this.#typing,
      this.#composer(),
      this.#status,
    );
  }

  close(): void {
    document.removeEventListener("visibilitychange", this.#markRead);
    document.removeEventListener("visibilitychange", this.#away);
    this.room.close();
  }

  #composer(): HTMLFormElement {
    const input = h("input", { name: "text", placeholder: "Message", autocomplete: "off", "aria-label": "message" });
    // Throttled by the client to one signal per 2 s; the room shows it to others for ~5 s.
    input.addEventListener("input", () => this.room.typing());
    return h(
      "form",
      {
        class: "compose",
        onsubmit: (event) => {
          event.preventDefault();
          const text = input.value.trim();
          if (!text) return;
          input.value = "";
          // Resolves on the durable ack; the message itself arrives as a room event, in seq order.
          this.room.send(text).then(() => (this.#status.textContent = ""), (error: KaiwaError) => (this.#status.textContent = `not sent: ${error.code}`));
        },
      },
      input,
      h("button", { type: "submit", text: "Send" }),
    );
  }

  /** The next older page (the latest on first call); keeps what the reader looks at in place. */
  async #loadOlder(): Promise<void> {
    if (this.#loading || !this.#hasMore) return;
    this.#loading = true;
    try {
      const oldest = Math.min(...this.#rows.keys());
      const page = await this.room.history({ limit: PAGE, ...(this.#loadedOnce && Number.isFinite(oldest) ? { before: oldest } : {}) });
      const fromBottom = this.#list.scrollHeight - this.#list.scrollTop;
      for (const event of page.events) this.#add(event, "history");
      this.#hasMore = page.hasMore;
      if (!this.#loadedOnce) this.#scrollToEnd();
      else this.#list.scrollTop = this.#list.scrollHeight - fromBottom;
      this.#loadedOnce = true;
      this.#list.dataset.complete = String(!page.hasMore);
      this.#markRead();
    } catch (error) {
      // e.g. not_member: someone else's DM, or a group this user is not (or no longer) in.
      if (error instanceof KaiwaError && error.code !== "closed") this.#status.textContent = `cannot open this conversation: ${error.code}`;
    } finally {
      this.#loading = false;
    }
  }

  #add(event: RoomEvent, from: "live" | "history"): void {
    if (event.kind === "edit" || event.kind === "delete") {
      const target = this.#rows.get(event.target);
      if (target) setText(target, event.kind === "edit" ? `${event.text} (edited)` : "message deleted");
      return;
    }
    if (this.#rows.has(event.seq)) return; // a history page overlapping what arrived live
    const row = event.kind === "message" ? this.#messageRow(event) : h("li", { class: "system", "data-seq": event.seq, text: describe(event) });
    // Keep rows in seq order whichever way they came (a page of older history, or the live stream).
    const next = [...this.#rows.keys()].filter((seq) => seq > event.seq).sort((a, b) => a - b)[0];
    const atEnd = this.#list.scrollHeight - this.#list.scrollTop - this.#list.clientHeight < 40;
    this.#list.insertBefore(row, next === undefined ? null : this.#rows.get(next)!);
    this.#rows.set(event.seq, row);
    if (event.kind === "message" && event.author.id === this.me) {
      this.#lastOwn = Math.max(this.#lastOwn, event.seq);
      this.#showReceipt();
    }
    if (from === "live") {
      if (atEnd || event.author.id === this.me) this.#scrollToEnd();
      this.#markRead();
    }
  }

  #messageRow(event: Extract<RoomEvent, { kind: "message" }>): HTMLLIElement {
    const text = event.deletedBy ? "message deleted" : event.editedBy ? `${event.text} (edited)` : event.text;
    return h(
      "li",
      { class: event.author.id === this.me ? "message mine" : "message", "data-seq": event.seq, "data-author": event.author.id },
      h("b", { text: event.author.name || event.author.id }),
      h("span", { class: "text", text }),
      h("time", { text: time(event.ts) }),
    );
  }

  /** Read up to the newest row while the tab is visible (forward only: older reads never move it back). */
  readonly #markRead = () => {
    const newest = Math.max(0, ...this.#rows.keys());
    if (newest <= this.#readAsked || document.visibilityState !== "visible") return;
    this.#readAsked = newest; // the client re-sends pending reads after a reconnect: ask once per position
    this.room.read(newest).catch(() => (this.#readAsked = 0));
  };

  /** Under my newest message: read (by whom, in a group), delivered, or sent. */
  #showReceipt(): void {
    this.#list.querySelector("[data-testid=receipt]")?.remove();
    const row = this.#rows.get(this.#lastOwn);
    if (!row) return;
    const readers = this.room.readers(this.#lastOwn, this.me);
    const peer = this.id.startsWith("dm:") ? this.id.slice(3).split(":").find((u) => u !== this.me) : undefined;
    const text = readers.length > 0 ? (peer ? "Read" : `Read by ${readers.join(", ")}`) : peer && this.room.deliveredTo(peer) >= this.#lastOwn ? "Delivered" : "Sent";
    row.append(h("small", { class: "receipt", "data-testid": "receipt", text }));
  }

  #showHere(): void {
    if (this.room.status !== "open") {
      this.#here.textContent = ""; // who is here is unknown while offline
      return;
    }
    const others = [...this.room.members.present].filter((u) => u !== this.me);
    // A user is away when every one of their connections says so.
    const away = (u: string) => this.room.presence.get(u)?.every((state) => state.status === "away") === true;
    this.#here.textContent = others.length ? `here: ${others.map((u) => (away(u) ? `${u} (away)` : u)).join(", ")}` : "nobody else here";
  }

  readonly #away = () => this.room.setState({ status: document.hidden ? "away" : undefined });

  #showTyping(users: string[]): void {
    const others = users.filter((u) => u !== this.me);
    this.#typing.textContent = others.length ? `${others.join(", ")} ${others.length > 1 ? "are" : "is"} typing…` : "";
  }

  #scrollToEnd(): void {
    this.#list.scrollTop = this.#list.scrollHeight;
  }
}

function setText(row: HTMLLIElement, text: string): void {
  const span = row.querySelector(".text");
  if (span) span.textContent = text;
}

function describe(event: Exclude<RoomEvent, { kind: "message" | "edit" | "delete" }>): string {
  const who = event.author.name || event.author.id;
  switch (event.kind) {
    case "group":
      return event.action === "create" ? `${who} created “${event.title}”` : `${who} renamed the group to “${event.title}”`;
    case "member":
      return `${who}: ${event.action} ${event.user}`;
    case "announcement":
      return `📢 ${event.text}`;
    case "moderation":
      return `${who}: ${event.action} ${event.user}`;
    case "reaction":
      return `${who} ${event.action === "add" ? "reacted" : "took back"} ${event.emoji}`;
    case "pin":
      return `${who} ${event.action === "pin" ? "pinned" : "unpinned"} a message`;
  }
}
