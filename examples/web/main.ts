/**
 * kaiwa's example chat app: plain DOM on the typed client. One KaiwaInbox for the conversation list
 * (unread counts, contacts online), one KaiwaRoom for the open conversation (conversation.ts), search()
 * over the archive, and a banner while either socket is reconnecting. Served by `npm run dev` at /chat/.
 * In your app, import from "kaiwa/client" and "kaiwa/client/search" instead of the repository's source.
 */
import { KaiwaError, KaiwaInbox, type SearchHit, type Status } from "../../client/index.ts";
import { search } from "../../client/search.ts";
import { ConversationView } from "./conversation.ts";
import { $, h, time } from "./dom.ts";
import { currentSession, putRoomInAddress, roomInAddress, signIn, signOut, type Session } from "./session.ts";
import "./style.css";

type Conversation = KaiwaInbox["conversations"][number];

const host = location.host; // the page is served by the kaiwa server itself

function start(): void {
  const session = currentSession();
  if (!session) return showSignIn();
  $("#app").hidden = false;
  const token = () => session.token;
  const inbox = new KaiwaInbox({ host, user: session.user, token });
  let open: ConversationView | undefined;

  /** A conversation's name: its title in the list, a DM's other participant, or the room id. */
  const titleFor = (room: string) => {
    const known = inbox.conversations.find((c) => c.room === room);
    return known ? titleOf(known) : room.startsWith("dm:") ? room.slice(3).split(":").find((u) => u !== session.user) ?? room : room;
  };
  const openConversation = (room: string, title = titleFor(room)) => {
    if (open?.id === room) return open;
    open?.close();
    open = new ConversationView(room, session.user, title, { host, token });
    putRoomInAddress(room);
    open.room.on("status", () => showBanner());
    $("#conversation").replaceChildren(open.element);
    $<HTMLInputElement>("#conversation input[name=text]").focus();
    renderList();
    return open;
  };

  const renderList = () => {
    const contacts = inbox.contacts;
    $("#me").textContent = `${inbox.user?.name ?? session.user} · ${inbox.totalUnread} unread`;
    $("#conversations").replaceChildren(
      ...inbox.conversations.map((c) =>
        h(
          "li",
          { "data-room": c.room, class: c.room === open?.id ? "active" : undefined },
          h(
            "button",
            { type: "button", onclick: () => openConversation(c.room) },
            c.peer ? h("i", { class: contacts.get(c.peer)?.online ? "dot online" : "dot", title: contacts.get(c.peer)?.online ? "online" : "offline" }) : undefined,
            h("b", { text: titleOf(c) }),
            c.unread > 0 ? h("span", { class: "badge", "data-testid": "unread", text: c.unread }) : undefined,
            h("small", { text: c.preview ? `${c.preview.author.name || c.preview.author.id}: ${c.preview.deleted ? "deleted" : c.preview.text}` : "" }),
          ),
        ),
      ),
    );
  };
  inbox.on("welcome", renderList);
  inbox.on("conversation", renderList);
  inbox.on("presence", renderList);

  // Reconnects are automatic and gapless; the banner only tells the user why nothing moves meanwhile.
  const everOpen = new Set<object>();
  const showBanner = () => {
    const statuses: Array<[object, Status]> = [[inbox, inbox.status], ...(open ? [[open.room, open.room.status] as [object, Status]] : [])];
    for (const [client, status] of statuses) if (status === "open") everOpen.add(client);
    const down = statuses.filter(([, status]) => status !== "open" && status !== "closed");
    const banner = $("#banner");
    banner.hidden = down.length === 0;
    if (down.some(([, status]) => status === "auth_failed")) banner.replaceChildren("Your session has expired. ", h("button", { type: "button", text: "Sign in again", onclick: () => (signOut(), location.reload()) }));
    else banner.textContent = down.some(([client]) => everOpen.has(client)) ? "Connection lost: reconnecting…" : "Connecting…";
  };
  inbox.on("status", showBanner);
  // The browser knows before any heartbeat does: drop the sockets when the network goes, and reconnect
  // at once (skipping the backoff wait) when it returns. Resume fills in whatever was missed.
  for (const change of ["offline", "online"]) {
    window.addEventListener(change, () => {
      for (const client of [inbox, open?.room]) if (client && client.status !== "closed") client.reconnect();
    });
  }

  $("#new-dm").addEventListener("submit", (event) => {
    event.preventDefault();
    const peer = field(event, "peer");
    if (peer && peer !== session.user) openConversation(dmRoom(session.user, peer), peer);
  });
  $("#new-group").addEventListener("submit", (event) => {
    event.preventDefault();
    const title = field(event, "title");
    const members = field(event, "members").split(/[\s,]+/).filter(Boolean);
    const view = openConversation(`g:${crypto.randomUUID().slice(0, 8)}`, title);
    view.room.createGroup(title, members).catch((error: KaiwaError) => alert(`could not create the group: ${error.code}`));
  });
  $("#search").addEventListener("submit", (event) => {
    event.preventDefault();
    void runSearch(session, field(event, "q"), titleFor, (hit) => openConversation(hit.room));
  });
  // A link to a conversation (`#room=`) opens it, on load and when followed from within the page.
  const followAddress = () => {
    const room = roomInAddress();
    if (room) openConversation(room);
  };
  window.addEventListener("hashchange", followAddress);
  followAddress();
  $("#sign-out").addEventListener("click", () => {
    signOut();
    location.reload();
  });
}

async function runSearch(session: Session, q: string, titleFor: (room: string) => string, onOpen: (hit: SearchHit) => void): Promise<void> {
  const results = $("#results");
  if (!q) return results.replaceChildren();
  try {
    const page = await search({ host, token: session.token, q, limit: 20 });
    results.replaceChildren(
      ...(page.results.length === 0 ? [h("li", { text: "no results" })] : []),
      ...page.results.map((hit) =>
        h("li", { "data-room": hit.room, "data-seq": hit.seq }, h("button", { type: "button", onclick: () => onOpen(hit) }, h("small", { text: `${titleFor(hit.room)} · ${hit.author.name || hit.author.id} · ${time(hit.ts)}` }), highlighted(hit))),
      ),
    );
  } catch (error) {
    results.replaceChildren(h("li", { text: error instanceof KaiwaError ? `search failed: ${error.code}` : String(error) }));
  }
}

/** The snippet with each [start, end) hit wrapped in <mark>, as text nodes (never innerHTML: it is user text). */
function highlighted(hit: SearchHit): HTMLElement {
  const p = h("p", { class: "snippet" });
  let at = 0;
  for (const [start = 0, end = 0] of hit.highlights) {
    p.append(hit.snippet.slice(at, start), h("mark", { text: hit.snippet.slice(start, end) }));
    at = end;
  }
  p.append(hit.snippet.slice(at));
  return p;
}

function showSignIn(): void {
  const form = $<HTMLFormElement>("#signin");
  form.hidden = false;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    signIn(field(event, "token"));
    location.reload();
  });
}

const titleOf = (c: Conversation) => c.title || c.peer || c.room;
/** A DM's room id, as the inbox names it: `dm:<a>:<b>` with the two ids sorted. */
const dmRoom = (a: string, b: string) => (a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`);
const field = (event: Event, name: string) => ((event.target as HTMLFormElement).elements.namedItem(name) as HTMLInputElement).value.trim();

start();
