/**
 * A strict parser of the Prometheus text exposition format (0.0.4), for the metrics tests: every sample
 * belongs to a family declared with # HELP and # TYPE before it, names and labels are well formed,
 * values parse, no series repeats, and histograms have cumulative buckets ending in +Inf == _count.
 * Throws on the first violation, naming the line.
 */
export type Series = Map<string, number>;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

export function parsePrometheus(text: string): Series {
  if (!text.endsWith("\n")) throw new Error("exposition must end with a newline");
  const types = new Map<string, string>();
  const helped = new Set<string>();
  const series: Series = new Map();
  const lines = text.slice(0, -1).split("\n");
  lines.forEach((line, index) => {
    const where = `line ${index + 1} (${line})`;
    if (line.startsWith("# HELP ")) {
      const name = line.slice(7).split(" ")[0]!;
      if (!NAME.test(name) || helped.has(name)) throw new Error(`bad or repeated HELP at ${where}`);
      helped.add(name);
      return;
    }
    if (line.startsWith("# TYPE ")) {
      const [name, type, ...rest] = line.slice(7).split(" ");
      if (!name || !NAME.test(name) || !type || !TYPES.has(type) || rest.length || types.has(name)) throw new Error(`bad TYPE at ${where}`);
      types.set(name, type);
      return;
    }
    if (line.startsWith("#") || line === "") throw new Error(`unexpected comment or blank at ${where}`);
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`bad sample at ${where}`);
    const [, name, labelText, valueText] = match;
    const family = familyOf(name!, types);
    if (!family) throw new Error(`sample before its TYPE at ${where}`);
    const labels = parseLabels(labelText ?? "", where);
    const value = valueText === "+Inf" ? Infinity : valueText === "-Inf" ? -Infinity : valueText === "NaN" ? NaN : Number(valueText);
    if (!/^(NaN|[+-]Inf|-?\d+(\.\d+)?(e[+-]?\d+)?)$/.test(valueText!) || (Number.isNaN(value) && valueText !== "NaN")) throw new Error(`bad value at ${where}`);
    const type = types.get(family)!;
    if (type === "counter" && !(value >= 0)) throw new Error(`negative counter at ${where}`);
    const key = seriesKey(name!, labels);
    if (series.has(key)) throw new Error(`repeated series ${key} at ${where}`);
    series.set(key, value);
  });
  checkHistograms(series, types);
  return series;
}

/** `name{a="1",b="2"}` with labels sorted, the key `parsePrometheus` uses. */
export function seriesKey(name: string, labels: Record<string, string> = {}): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`);
  return parts.length ? `${name}{${parts.join(",")}}` : name;
}

function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    const base = name.endsWith(suffix) ? name.slice(0, -suffix.length) : undefined;
    if (base && types.get(base) === "histogram") return base;
  }
  return undefined;
}

function parseLabels(text: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {};
  if (!text) return labels;
  const body = text.slice(1, -1);
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\["\\n])*)"(,|$)/y;
  let at = 0;
  while (at < body.length) {
    re.lastIndex = at;
    const m = re.exec(body);
    if (!m || !LABEL.test(m[1]!)) throw new Error(`bad labels at ${where}`);
    if (m[1]! in labels) throw new Error(`repeated label at ${where}`);
    labels[m[1]!] = m[2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
    at = re.lastIndex;
  }
  return labels;
}

function checkHistograms(series: Series, types: Map<string, string>): void {
  const groups = new Map<string, Array<{ le: number; value: number }>>();
  for (const [key, value] of series) {
    const m = /^([^{]+)_bucket\{(.*)\}$/.exec(key);
    if (!m || types.get(m[1]!) !== "histogram") continue;
    const labels = Object.fromEntries([...m[2]!.matchAll(/(\w+)=("(?:[^"\\]|\\.)*")/g)].map((x) => [x[1]!, JSON.parse(x[2]!) as string]));
    const { le, ...rest } = labels;
    if (le === undefined) throw new Error(`bucket without le: ${key}`);
    const base = seriesKey(m[1]!, rest);
    const list = groups.get(base) ?? [];
    list.push({ le: le === "+Inf" ? Infinity : Number(le), value });
    groups.set(base, list);
  }
  for (const [base, buckets] of groups) {
    buckets.sort((a, b) => a.le - b.le);
    if (buckets.at(-1)?.le !== Infinity) throw new Error(`${base}: no +Inf bucket`);
    buckets.reduce((prev, b) => {
      if (b.value < prev) throw new Error(`${base}: buckets not cumulative`);
      return b.value;
    }, 0);
    const count = series.get(base.replace(/^([^{]+)/, "$1_count"));
    if (count !== buckets.at(-1)!.value) throw new Error(`${base}: +Inf bucket ${buckets.at(-1)!.value} != _count ${count}`);
  }
}
