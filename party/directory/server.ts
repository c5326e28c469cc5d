/**
 * The directory actor (one instance, `global`): the list of rooms the dashboard and the metrics read.
 * Rooms report small coalesced stats here (party/adapters/directory-reporter.ts); it is never on the
 * message path, and nothing a room does waits for it.
 *
 * Reachable only party-to-party: `room.context.parties.directory.get(...).fetch()` and the admin API in
 * the worker bypass onBeforeRequest, and every request from outside is refused there. So a report
 * cannot be forged from the internet, and reads go through the admin API's operator check.
 */
import type * as Party from "partykit/server";
import { errorResponse, json, refusedSocket } from "../adapters/http.ts";
import { CLOSE } from "../protocol/codes.ts";
import { isHandshake, refuseFakeUpgrade } from "../adapters/http-limits.ts";
import { ListRoomsQuery, RoomReport, SeriesQuery, type RoomEntry } from "../protocol/admin-schema.ts";
import { renderMetrics } from "./metrics.ts";
import { DirectoryCharts, chartSettings } from "./charts.ts";
import { loadConfig, type TestSwitches } from "../config.ts";
import { LIMITS } from "../protocol/limits.ts";
import { evictionFor, overBound } from "./room-bound.ts";
import { ROOM_ENTRY_PREFIX, roomEntryKey } from "./keys.ts";

export default class Directory implements Party.Server {
  private rooms = new Map<string, RoomEntry>();
  /** Test switches (party/test-switches.ts), read once; an invalid configuration throws here (party/config.ts). */
  private readonly test: TestSwitches;
  /** The dashboard's overview and chart history (party/directory/charts.ts), fed by the reports below. */
  private readonly charts: DirectoryCharts;
  /** PROTOCOL R81: rooms kept at most (a test switch lowers it). */
  private readonly maxRooms: number;
  /** Rooms dropped past the bound since the directory started (the listing's `evicted`, a metric). */
  private evicted = 0;

  constructor(readonly room: Party.Room) {
    const config = loadConfig(room.env);
    this.test = config.test;
    this.charts = new DirectoryCharts(chartSettings(config.directory.intervalMs));
    this.maxRooms = config.test.directoryMaxRooms || LIMITS.directoryMaxRooms;
  }

  static onBeforeConnect(request: Party.Request) {
    // partykit routes any request with an Upgrade header here: a fake one gets a typed answer, not a 500.
    if (!isHandshake(request as unknown as Request)) return refuseFakeUpgrade(request as unknown as Request);
    return refusedSocket("forbidden", "The directory has no socket API; use the admin API.", CLOSE.forbidden);
  }

  static onBeforeRequest() {
    return errorResponse("not_found", "The directory is internal; operators use /admin/*.");
  }

  async onStart() {
    const stored = await this.room.storage.list<RoomEntry>({ prefix: ROOM_ENTRY_PREFIX });
    for (const entry of stored.values()) this.rooms.set(entry.room, entry);
    // A lowered bound applies at once (PROTOCOL R81).
    const over = overBound([...this.rooms.values()], this.maxRooms);
    for (const room of over) this.rooms.delete(room);
    if (over.length > 0) await this.room.storage.delete(over.map(roomEntryKey));
    this.charts.load(this.rooms.values());
  }

  async onRequest(request: Party.Request): Promise<Response> {
    const url = new URL(request.url);
    const action = url.pathname.split("/").pop();
    if (request.method === "POST" && action === "report") {
      // Test switch (KAIWA_TEST_DIRECTORY_DELAY_MS): a slow directory, to prove no ack waits for it.
      const delay = this.test.directoryDelayMs;
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      const report = RoomReport.safeParse(await request.json().catch(() => undefined));
      if (!report.success) return errorResponse("bad_frame", report.error.issues[0]?.message);
      const entry: RoomEntry = { ...report.data, updatedAt: Date.now() };
      const previous = this.rooms.get(entry.room);
      // PROTOCOL R81: a room new to a full directory takes the place of the least of them, or is not kept.
      if (!previous && this.rooms.size >= this.maxRooms) {
        const victim = evictionFor(this.rooms.values(), entry);
        this.evicted++;
        if (victim === entry.room) return new Response(null, { status: 204 });
        this.charts.evicted(this.rooms.get(victim)!);
        this.rooms.delete(victim);
        await this.room.storage.delete(roomEntryKey(victim));
      }
      this.charts.report(previous, entry, entry.updatedAt);
      this.rooms.set(entry.room, entry);
      await this.room.storage.put(roomEntryKey(entry.room), entry);
      return new Response(null, { status: 204 });
    }
    if (request.method === "GET" && action === "rooms") {
      const query = ListRoomsQuery.safeParse(Object.fromEntries(url.searchParams));
      if (!query.success) return errorResponse("bad_frame", query.error.issues[0]?.message);
      const needle = query.data.q?.toLowerCase();
      const matching = [...this.rooms.values()].filter((e) => !needle || e.room.toLowerCase().includes(needle));
      // Busiest first, then by id: what an operator looks for on a live system.
      matching.sort((a, b) => b.connections - a.connections || a.room.localeCompare(b.room));
      return json({ rooms: matching.slice(0, query.data.limit), total: matching.length, evicted: this.evicted });
    }
    if (request.method === "GET" && action === "metrics") {
      const entries = [...this.rooms.values()].sort((a, b) => a.room.localeCompare(b.room));
      return new Response(renderMetrics(entries, this.evicted), { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } });
    }
    if (request.method === "GET" && action === "overview") return json(this.charts.overview(Date.now()));
    if (request.method === "GET" && action === "series") {
      const query = SeriesQuery.safeParse(Object.fromEntries(url.searchParams));
      if (!query.success) return errorResponse("bad_frame", query.error.issues[0]?.message);
      const room = query.data.room;
      const entry = room === undefined ? undefined : this.rooms.get(room);
      if (room !== undefined && !entry) return errorResponse("not_found", `The directory has no report from room ${room} yet.`);
      return json(this.charts.series(room, entry, Date.now()));
    }
    return errorResponse("not_found", "No such directory route.");
  }
}
