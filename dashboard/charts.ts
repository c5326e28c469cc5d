/**
 * Live charts of the last minutes (connections, msgs/s with errors/s, ack latency p50/p99, archive lag),
 * drawn with uPlot: a small, maintained canvas charting library that takes column arrays, which is the
 * shape the directory's series route answers in (party/directory/charts.ts). The history is kept by the
 * directory, so the page only redraws what it is given: a reload shows the last minutes at once.
 *
 * Each group registers itself on `window.kaiwaCharts` (by name), so an operator can read the plotted data
 * from the devtools console, and the browser test reads it the same way.
 */
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { ChartSeries } from "../client/admin.ts";
import { h } from "./dom.ts";

type Field = Exclude<keyof ChartSeries, "room" | "slotMs" | "windowMs" | "t">;
type Line = { label: string; field: Field; stroke: string; fill?: string };
type Panel = { key: string; title: string; unit: string; lines: Line[] };

const PANELS: readonly Panel[] = [
  { key: "connections", title: "Connections", unit: "", lines: [{ label: "connections", field: "connections", stroke: "#3b6fd8", fill: "#3b6fd822" }] },
  {
    key: "rate",
    title: "Messages / s",
    unit: "",
    lines: [
      { label: "msgs/s", field: "messagesPerSecond", stroke: "#1f9d6b", fill: "#1f9d6b22" },
      { label: "errors/s", field: "errorsPerSecond", stroke: "#d0453a" },
    ],
  },
  {
    key: "latency",
    title: "Ack latency",
    unit: " ms",
    lines: [
      { label: "p50", field: "ackP50Ms", stroke: "#7a5bd6" },
      { label: "p99", field: "ackP99Ms", stroke: "#e08a00" },
    ],
  },
  { key: "archive", title: "Archive lag (events)", unit: "", lines: [{ label: "lag", field: "archiveLag", stroke: "#8a6d3b", fill: "#8a6d3b22" }] },
];

const HEIGHT = 150;

declare global {
  interface Window {
    kaiwaCharts?: Record<string, ChartGroup>;
  }
}

export class ChartGroup {
  /** One uPlot per panel, by panel key ("connections", "rate", "latency", "archive"). */
  readonly plots = new Map<string, uPlot>();
  private readonly cells = new Map<string, HTMLElement>();
  private readonly resize = new ResizeObserver(() => this.fit());

  constructor(
    name: string,
    root: HTMLElement,
  ) {
    root.classList.add("charts");
    for (const panel of PANELS) {
      const cell = h("div", { class: "chart", "data-chart": panel.key }, h("h4", {}, panel.title, h("span", { class: "now" })));
      root.append(cell);
      this.cells.set(panel.key, cell);
    }
    this.resize.observe(root);
    (window.kaiwaCharts ??= {})[name] = this;
  }

  /** Draws a new window of samples (created on first use, when the group is visible and has a width). */
  show(series: ChartSeries): void {
    const x = series.t.map((t) => t / 1000); // uPlot's time axis is in seconds
    for (const panel of PANELS) {
      const data: uPlot.AlignedData = [x, ...panel.lines.map((line) => series[line.field])];
      const plot = this.plots.get(panel.key) ?? this.create(panel, data);
      if (plot) plot.setData(data);
      // The latest figures beside the title: readable at a glance without hovering.
      const latest = (line: Line) => format(series[line.field].at(-1), panel.unit);
      const now = panel.lines.length === 1 ? latest(panel.lines[0]!) : panel.lines.map((line) => `${line.label} ${latest(line)}`).join(" · ");
      this.cells.get(panel.key)!.querySelector(".now")!.textContent = now;
    }
  }

  /** Empties the charts (another room was opened). */
  clear(): void {
    for (const [key, plot] of this.plots) {
      const panel = PANELS.find((p) => p.key === key)!;
      plot.setData([[], ...panel.lines.map(() => [])]);
    }
  }

  private create(panel: Panel, data: uPlot.AlignedData): uPlot | undefined {
    const cell = this.cells.get(panel.key)!;
    const width = cell.clientWidth;
    if (width === 0) return undefined; // hidden: drawn on the next update once shown
    const value = (v: number | null) => format(v, panel.unit);
    const plot = new uPlot(
      {
        width,
        height: HEIGHT,
        legend: { live: true },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min ?? 0), Math.max(1, (max ?? 0) * 1.1)] } },
        axes: [{ stroke: "#667", grid: { stroke: "#e3e5ea" } }, { stroke: "#667", grid: { stroke: "#e3e5ea" }, size: 48 }],
        series: [{}, ...panel.lines.map((line) => ({ label: line.label, stroke: line.stroke, width: 2, spanGaps: true, value: (_u: uPlot, v: number | null) => value(v), ...(line.fill ? { fill: line.fill } : {}) }))],
      },
      data,
      cell,
    );
    this.plots.set(panel.key, plot);
    return plot;
  }

  private fit(): void {
    for (const [key, plot] of this.plots) {
      const width = this.cells.get(key)!.clientWidth;
      if (width > 0 && width !== plot.width) plot.setSize({ width, height: HEIGHT });
    }
  }
}

function format(v: number | null | undefined, unit: string): string {
  return v === null || v === undefined ? "–" : `${Math.round(v * 100) / 100}${unit}`;
}
