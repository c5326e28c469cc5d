/**
 * A small SVG line chart: axes with round-number ticks, one polyline per series, a legend. Written here
 * rather than pulling a charting library: the bench needs only lines, and the output is a plain file a
 * browser shows without scripts.
 */
export type Series = { name: string; points: Array<[number, number]>; color: string; dashed?: boolean };
export type Chart = { title: string; xLabel: string; yLabel: string; series: Series[]; logY?: boolean };

const W = 760;
const H = 420;
const M = { left: 76, right: 200, top: 40, bottom: 52 };

export function niceTicks(min: number, max: number, count = 6): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

export function formatNumber(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toFixed(1)}k`;
  if (a >= 100 || Number.isInteger(v)) return String(Math.round(v));
  return String(+v.toPrecision(3));
}

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function renderChart(chart: Chart): string {
  const points = chart.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!chart.logY || y > 0));
  const xs = points.map(([x]) => x);
  const ys = points.map(([, y]) => y);
  const xMin = Math.min(0, ...xs);
  const xMax = xs.length ? Math.max(...xs) : 1;
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (x: number) => M.left + ((x - xMin) / (xMax - xMin || 1)) * pw;
  let yTicks: number[];
  let sy: (y: number) => number;
  if (chart.logY) {
    const lo = Math.floor(Math.log10(Math.max(1e-3, Math.min(...ys, 1))));
    const hi = Math.ceil(Math.log10(Math.max(...ys, 10)));
    yTicks = Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i));
    sy = (y) => M.top + ph - ((Math.log10(y) - lo) / (hi - lo || 1)) * ph;
  } else {
    const yMax = ys.length ? Math.max(...ys) * 1.05 : 1;
    yTicks = niceTicks(0, yMax || 1);
    // The top gridline must sit at or above the highest point, or the line leaves the plot.
    const step = yTicks.length > 1 ? yTicks[1]! - yTicks[0]! : 1;
    while (yTicks[yTicks.length - 1]! < yMax) yTicks.push(Number((yTicks[yTicks.length - 1]! + step).toPrecision(12)));
    const top = yTicks[yTicks.length - 1]! || 1;
    sy = (y) => M.top + ph - (y / top) * ph;
  }
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${M.left}" y="24" font-size="15" font-weight="bold">${escape(chart.title)}</text>`);
  for (const t of yTicks) {
    const y = sy(t);
    out.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${M.left - 6}" y="${y + 4}" text-anchor="end">${formatNumber(t)}</text>`);
  }
  for (const t of niceTicks(xMin, xMax)) {
    const x = sx(t);
    out.push(`<line x1="${x}" x2="${x}" y1="${M.top + ph}" y2="${M.top + ph + 5}" stroke="#333"/>`);
    out.push(`<text x="${x}" y="${M.top + ph + 18}" text-anchor="middle">${formatNumber(t)}</text>`);
  }
  out.push(`<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + ph}" stroke="#333"/>`);
  out.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${M.top + ph}" y2="${M.top + ph}" stroke="#333"/>`);
  out.push(`<text x="${M.left + pw / 2}" y="${H - 12}" text-anchor="middle">${escape(chart.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${escape(chart.yLabel)}${chart.logY ? " (log)" : ""}</text>`);
  chart.series.forEach((series, i) => {
    const pts = series.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!chart.logY || y > 0));
    const dash = series.dashed ? ` stroke-dasharray="6 4"` : "";
    if (pts.length) {
      out.push(`<polyline fill="none" stroke="${series.color}" stroke-width="2"${dash} points="${pts.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" ")}"/>`);
      if (pts.length < 30) for (const [x, y] of pts) out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${series.color}"/>`);
    }
    const ly = M.top + 10 + i * 20;
    out.push(`<line x1="${W - M.right + 14}" x2="${W - M.right + 44}" y1="${ly}" y2="${ly}" stroke="${series.color}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${W - M.right + 50}" y="${ly + 4}">${escape(series.name)}</text>`);
  });
  out.push(`</svg>`);
  return out.join("\n");
}

export const TARGET_COLORS: Record<string, string> = { kaiwa: "#1f5fbf", socketio: "#d03a2f", ws: "#2a9d3a" };
