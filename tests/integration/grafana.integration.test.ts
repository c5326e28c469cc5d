/**
 * The Grafana dashboard (ops/grafana/kaiwa-dashboard.json) and the scrape config (ops/prometheus/scrape.yml)
 * against a real `partykit dev`: after some traffic (typed clients sending messages, a raw socket sending
 * a bad frame), a scrape the way the config says (its metrics_path, a bearer token of an operator) exports
 * every metric that any panel's or variable's PromQL names, with samples. A panel naming a metric the
 * server does not export fails this test (the check is run on a doctored copy to prove it would).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { DevServer, waitFor } from "../helpers/dev-server.ts";
import { openClient, sendAll, type TestClient } from "../helpers/clients.ts";
import { rawSocket } from "../helpers/raw-socket.ts";
import { parsePrometheus, seriesKey, type Series } from "../helpers/prometheus.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const DASHBOARD = join(ROOT, "ops", "grafana", "kaiwa-dashboard.json");
const SCRAPE = join(ROOT, "ops", "prometheus", "scrape.yml");

type Panel = { id?: number; type?: string; title?: string; datasource?: { uid?: string }; gridPos?: { x: number; y: number; w: number; h: number }; targets?: Array<{ expr?: string; refId?: string }>; panels?: Panel[] };
type Dashboard = { panels: Panel[]; templating?: { list: Array<{ name: string; type: string; query?: string | { query?: string }; definition?: string }> } };

/** Every panel, rows' nested panels included. */
function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

/** Every PromQL expression of the dashboard: each panel target's `expr`, and each query variable's query. */
function dashboardExprs(dashboard: Dashboard): Array<{ where: string; expr: string }> {
  const exprs: Array<{ where: string; expr: string }> = [];
  for (const panel of allPanels(dashboard.panels)) {
    for (const target of panel.targets ?? []) if (target.expr) exprs.push({ where: `panel "${panel.title}" ${target.refId}`, expr: target.expr });
  }
  for (const variable of dashboard.templating?.list ?? []) {
    if (variable.type !== "query") continue;
    const query = typeof variable.query === "string" ? variable.query : variable.query?.query;
    if (query) exprs.push({ where: `variable $${variable.name}`, expr: query });
  }
  return exprs;
}

/**
 * The metric names an expression uses: identifiers starting with `kaiwa_`, outside string literals (label
 * values such as `room=~"kaiwa_x"` are not metrics) and not preceded by a name character.
 */
function metricNames(expr: string): string[] {
  const code = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  return [...new Set(code.match(/(?<![A-Za-z0-9_:])kaiwa_[A-Za-z0-9_:]*/g) ?? [])];
}

/** `# TYPE` lines of an exposition: family name to type. */
function declaredFamilies(text: string): Map<string, string> {
  const families = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (m) families.set(m[1]!, m[2]!);
  }
  return families;
}

/** The family a used name belongs to: itself, or a histogram's `_bucket`/`_sum`/`_count` series. */
function familyOf(name: string, families: Map<string, string>): string | undefined {
  if (families.has(name)) return name;
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  if (m && families.get(m[1]!) === "histogram") return m[1]!;
  if (m && m[2] !== "bucket" && families.get(m[1]!) === "summary") return m[1]!;
  return undefined;
}

/** Each use of a metric the scrape does not declare. */
function missingMetrics(dashboard: Dashboard, scrapeText: string): string[] {
  const families = declaredFamilies(scrapeText);
  return dashboardExprs(dashboard).flatMap(({ where, expr }) => metricNames(expr).filter((name) => !familyOf(name, families)).map((name) => `${where}: ${name}`));
}

/** Whether the scrape holds a sample of the series named `name` (any labels). */
function hasSample(series: Series, name: string): boolean {
  for (const key of series.keys()) if (key === name || key.startsWith(`${name}{`)) return true;
  return false;
}

/** What the scrape config says: metrics_path and the authorization type, read from the YAML text. */
function scrapeConfig(): { metricsPath: string; authType: string; job: string } {
  const text = readFileSync(SCRAPE, "utf8");
  const field = (key: string) => new RegExp(`^\\s*-?\\s*${key}:\\s*(\\S+)`, "m").exec(text)?.[1];
  return { metricsPath: field("metrics_path")!, authType: field("type")!, job: field("job_name")! };
}

const servers: DevServer[] = [];
const clients: TestClient[] = [];
after(async () => {
  for (const client of clients) client.room.close();
  for (const server of servers) await server.stop();
});

test("the metric-name checker itself: strings are not metrics, histogram suffixes resolve, and a missing name is reported", () => {
  assert.deepEqual(metricNames('sum by (room) (rate(kaiwa_room_messages_total{room=~"kaiwa_not_a_metric"}[5m])) / kaiwa_rooms'), ["kaiwa_room_messages_total", "kaiwa_rooms"]);
  assert.deepEqual(metricNames("histogram_quantile(0.99, sum by (le) (rate(kaiwa_ack_latency_seconds_bucket[1m]))) + x_kaiwa_y"), ["kaiwa_ack_latency_seconds_bucket"]);
  const text = "# HELP kaiwa_rooms r\n# TYPE kaiwa_rooms gauge\nkaiwa_rooms 1\n# HELP kaiwa_h h\n# TYPE kaiwa_h histogram\n";
  const dashboard: Dashboard = {
    panels: [{ title: "row", panels: [{ title: "p", targets: [{ refId: "A", expr: "kaiwa_rooms + kaiwa_h_bucket + kaiwa_h_count + kaiwa_rooms_bucket + kaiwa_romos" }] }] }],
    templating: { list: [{ name: "room", type: "query", query: { query: "label_values(kaiwa_gone, room)" } }] },
  };
  assert.deepEqual(missingMetrics(dashboard, text), ['panel "p" A: kaiwa_rooms_bucket', 'panel "p" A: kaiwa_romos', "variable $room: kaiwa_gone"]);
});

test("every metric the dashboard names is exported by a real scrape, as the scrape config makes it", async () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as Dashboard;
  const config = scrapeConfig();
  assert.deepEqual(config, { metricsPath: "/admin/metrics", authType: "Bearer", job: "kaiwa" });

  const server = new DevServer({ vars: { KAIWA_DIRECTORY_INTERVAL_MS: 150 } });
  servers.push(server);
  await server.start();

  // Traffic: messages from two typed clients in two rooms, and one bad frame from a raw socket.
  const alice = await openClient(server, "grafana-a", "alice");
  const bob = await openClient(server, "grafana-b", "bob");
  clients.push(alice, bob);
  await Promise.all([sendAll(alice, ["one", "two", "three", "four"]), sendAll(bob, ["uno", "dos"])]);
  const raw = await rawSocket(server, "grafana-a", { token: await server.token("carol"), session: "raw" });
  await raw.next((f) => f.type === "welcome");
  raw.send("{ not json");
  await raw.next((f) => f.type === "error" && f.code === "bad_frame");

  const scrape = async (token?: string) => {
    const response = await fetch(server.url + config.metricsPath, token ? { headers: { authorization: `${config.authType} ${token}` } } : {});
    return { status: response.status, text: await response.text() };
  };
  assert.equal((await scrape()).status, 401, "no token: refused");
  assert.equal((await scrape(await server.token("alice"))).status, 403, "a user's token: refused");
  const operator = await server.token("prometheus", { operator: true });

  let text = "";
  let series: Series = new Map();
  await waitFor(
    async () => {
      const answer = await scrape(operator);
      if (answer.status !== 200) return false;
      text = answer.text;
      series = parsePrometheus(text); // strict: HELP/TYPE before samples, cumulative buckets, +Inf == _count
      return (
        series.get(seriesKey("kaiwa_room_messages_total", { room: "grafana-a" })) === 4 &&
        series.get(seriesKey("kaiwa_room_messages_total", { room: "grafana-b" })) === 2 &&
        series.get(seriesKey("kaiwa_room_errors_total", { room: "grafana-a", code: "bad_frame" })) === 1
      );
    },
    15_000,
    "a scrape with the traffic",
  );

  // Every metric named by a panel or variable is declared by the scrape ...
  assert.deepEqual(missingMetrics(dashboard, text), [], "metrics the dashboard names that the server does not export");
  // ... and has samples after traffic (a declared family with no sample would draw an empty panel).
  const families = declaredFamilies(text);
  const used = new Set(dashboardExprs(dashboard).flatMap(({ expr }) => metricNames(expr)));
  for (const name of used) {
    const family = familyOf(name, families)!;
    const sampleName = family === name && families.get(family) === "histogram" ? `${name}_bucket` : name;
    assert.ok(hasSample(series, sampleName), `${name}: declared but no sample after traffic`);
  }
  console.log(`grafana: ${used.size} metrics named by the dashboard, all exported: ${[...used].sort().join(", ")}`);

  // The doctored copy: one more panel naming a metric that does not exist is caught.
  const doctored: Dashboard = { ...dashboard, panels: [...dashboard.panels, { title: "typo", targets: [{ refId: "A", expr: "sum(rate(kaiwa_room_mesages_total[5m]))" }] }] };
  assert.deepEqual(missingMetrics(doctored, text), ['panel "typo" A: kaiwa_room_mesages_total']);

  // What the issue asks the dashboard to show, each present.
  const exprs = dashboardExprs(dashboard).map((e) => e.expr);
  const shows = (what: string, pattern: RegExp) => assert.ok(exprs.some((e) => pattern.test(e)), `no panel shows ${what}`);
  shows("rooms", /\bkaiwa_rooms\b/);
  shows("connections", /\bkaiwa_(room_)?connections\b/);
  shows("messages per second", /rate\(kaiwa_(room_)?messages_total\[/);
  shows("ack latency p50", /histogram_quantile\(0\.5, .*kaiwa_(room_)?ack_latency_seconds_bucket/);
  shows("ack latency p99", /histogram_quantile\(0\.99, .*kaiwa_(room_)?ack_latency_seconds_bucket/);
  shows("archive lag", /\bkaiwa_(room_)?archive_lag_events\b/);
  shows("errors by code", /sum by \(code\) \(rate\(kaiwa_(room_)?errors_total\[/);
  shows("report failures", /\bkaiwa_(room_)?report_failures_total\b/);

  // Well-formed for Grafana: unique panel ids, every query panel on the datasource variable with
  // distinct refIds, and every panel inside the 24-column grid.
  const panels = allPanels(dashboard.panels);
  const ids = panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, "panel ids are unique");
  for (const panel of panels) {
    assert.ok(panel.gridPos && panel.gridPos.x + panel.gridPos.w <= 24, `${panel.title}: inside the grid`);
    if (panel.type === "row") continue;
    assert.equal(panel.datasource?.uid, "${datasource}", `${panel.title}: uses the datasource variable`);
    const refIds = (panel.targets ?? []).map((t) => t.refId);
    assert.ok(refIds.length > 0 && new Set(refIds).size === refIds.length, `${panel.title}: targets with distinct refIds`);
  }
});
