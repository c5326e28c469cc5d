/**
 * The operator dashboard (served from public/, bundled by partykit's `serve.build` with esbuild, uPlot
 * and its stylesheet included): the system overview with live charts (dashboard/charts.ts), a room list
 * with live counts from the directory, and a room inspector (dashboard/inspector.ts).
 * The operator token comes from `#token=` in the URL or the sign-in field, and stays in this tab only
 * (sessionStorage): a bearer token with the operator role should not outlive the tab.
 */
import { KaiwaAdmin, type Overview, type RoomEntry } from "../client/admin.ts";
import { KaiwaError } from "../client/index.ts";
import { $, h, input } from "./dom.ts";
import { Inspector } from "./inspector.ts";
import { ChartGroup } from "./charts.ts";

const LIST_POLL_MS = 1000;
/** The directory's chart slots are at least a second long: polling faster would redraw the same data. */
const OVERVIEW_POLL_MS = 1000;

function start(): void {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token") ?? sessionStorage.getItem("kaiwa-operator-token");
  if (!token) {
    $("#signin").hidden = false;
    $("#signin").addEventListener("submit", (event) => {
      event.preventDefault();
      sessionStorage.setItem("kaiwa-operator-token", input(document, "token").value.trim());
      location.reload();
    });
    return;
  }
  sessionStorage.setItem("kaiwa-operator-token", token);
  history.replaceState(null, "", location.pathname + (params.get("room") ? `#room=${params.get("room")}` : ""));
  $("#app").hidden = false;
  const admin = new KaiwaAdmin({ baseUrl: "", token });
  const inspector = new Inspector(admin, token, $("#inspector"));
  const openRoom = (room: string) => {
    if (room) inspector.open(room);
  };
  $("#open-room").addEventListener("submit", (event) => {
    event.preventDefault();
    openRoom(input(document, "room").value.trim());
  });
  const search = input(document, "q");
  const poll = async () => {
    try {
      const { rooms, total } = await admin.rooms({ q: search.value.trim() || undefined, limit: 200 });
      renderRooms(rooms, total, openRoom);
      $("#list-status").textContent = "";
    } catch (error) {
      $("#list-status").textContent = error instanceof KaiwaError ? `${error.code}: ${error.message}` : String(error);
    }
  };
  void poll();
  setInterval(() => void poll(), LIST_POLL_MS);
  const charts = new ChartGroup("system", $("#system-charts"));
  const pollOverview = async () => {
    try {
      const [overview, series] = await Promise.all([admin.overview(), admin.series()]);
      renderOverview(overview);
      charts.show(series);
      $("#overview-status").textContent = "";
    } catch (error) {
      $("#overview-status").textContent = error instanceof KaiwaError ? `${error.code}: ${error.message}` : String(error);
    }
  };
  void pollOverview();
  setInterval(() => void pollOverview(), OVERVIEW_POLL_MS);
  const initial = params.get("room");
  if (initial) openRoom(initial);
}

function renderOverview(o: Overview): void {
  const set = (id: string, value: number) => ($(`[data-testid=${id}]`).textContent = String(value));
  set("sys-rooms", o.rooms);
  set("sys-connections", o.connections);
  set("sys-rate", o.messagesPerSecond);
  set("sys-archive-lag", o.archiveLag);
  set("sys-errors", o.errorsTotal);
  set("sys-report-failures", o.reportFailures);
  const codes = Object.entries(o.errors).sort(([, a], [, b]) => b - a);
  $("[data-testid=errors-by-code]").replaceChildren(
    ...(codes.length
      ? codes.map(([code, n]) => h("li", { "data-code": code }, h("code", { text: code }), h("span", { class: "count", text: n })))
      : [h("li", { class: "none", text: "none" })]),
  );
}

function renderRooms(rooms: RoomEntry[], total: number, open: (room: string) => void): void {
  $("#room-count").textContent = `${total} room${total === 1 ? "" : "s"}`;
  $("#rooms tbody").replaceChildren(
    ...rooms.map((r) =>
      h(
        "tr",
        { "data-room": r.room, onclick: () => open(r.room) },
        h("td", { text: r.room }),
        h("td", { text: r.kind }),
        h("td", { class: "num", "data-testid": "list-connections", text: r.connections }),
        h("td", { class: "num", text: r.lastSeq }),
        h("td", { class: "num", text: r.messagesPerSecond }),
      ),
    ),
  );
}

start();
