/**
 * The page tests/integration/react.integration.test.ts renders in Chromium: a small chat component written
 * the way an app would with `kaiwa/react` (bundled with the real react and react-dom from npm). The room,
 * host, user and token come from the address: `?host=&room=&user=&token=`.
 */
import { createElement as h, useState, type FormEvent } from "react";
import { createRoot } from "react-dom/client";
import { useAwareness, useInbox, usePresence, useRoom, useTyping } from "../../client/react.ts";

const params = new URLSearchParams(location.search);

function Chat() {
  const { room, messages, status, send } = useRoom({ host: params.get("host")!, room: params.get("room")!, token: params.get("token")! });
  const { present } = usePresence(room);
  const typing = useTyping(room);
  const states = useAwareness(room);
  const { conversations, totalUnread } = useInbox({ host: params.get("host")!, user: params.get("user")!, token: params.get("token")! });
  const [text, setText] = useState("");
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void send(text);
    setText("");
  };
  return h(
    "section",
    null,
    h("p", { id: "status" }, status),
    h("p", { id: "present" }, present.join(",")),
    h("p", { id: "typing" }, typing.join(",")),
    h("p", { id: "aware" }, [...states.keys()].sort().join(",")),
    h("p", { id: "inbox" }, `${totalUnread} unread: ${conversations.map((c) => `${c.room}=${c.unread}`).join(",")}`),
    h("ul", { id: "messages" }, ...messages.map((m) => h("li", { key: m.seq, "data-seq": m.seq }, m.text))),
    h("form", { onSubmit: submit }, h("input", { name: "text", value: text, onChange: (e) => { setText(e.currentTarget.value); room?.typing(); } })),
  );
}

function App() {
  const [joined, setJoined] = useState(true);
  return h("main", null, h("button", { id: "leave", onClick: () => setJoined(false) }, "leave"), joined ? h(Chat) : h("p", { id: "left" }, "left"));
}

createRoot(document.getElementById("root")!).render(h(App));
