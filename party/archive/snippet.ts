/**
 * Highlighted snippets for search results, computed on the original text (the database matched on its
 * normalised form). Each code point is normalised on its own (NFKC, ASCII lower case, as kaiwa_norm does)
 * with a map back to its place in the original, so a match found in normalised text highlights the right
 * original characters even when normalisation changed lengths (full-width Ａ, half-width ｶ).
 */
export type Snippet = { text: string; highlights: Array<[number, number]> };

const asciiLower = (s: string) => s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
export const normalizeTerm = (s: string): string => asciiLower(s.normalize("NFKC"));

/** Query → distinct search terms: split on whitespace after NFKC (full-width spaces included). */
export function queryTerms(query: string, maxTerms: number): string[] {
  const terms = query.normalize("NFKC").split(/\s+/u).filter(Boolean);
  return [...new Set(terms.map(normalizeTerm))].slice(0, maxTerms);
}

export function snippet(body: string, terms: string[], radius = 40): Snippet {
  let normalized = "";
  const origin: number[] = []; // normalized index → original index
  const originEnd: number[] = []; // normalized index → original index after the source code point
  let i = 0;
  for (const ch of body) {
    const n = normalizeTerm(ch);
    for (let k = 0; k < n.length; k++) {
      origin.push(i);
      originEnd.push(i + ch.length);
    }
    normalized += n;
    i += ch.length;
  }
  const hits: Array<[number, number]> = [];
  for (const term of terms) {
    if (!term) continue;
    for (let at = normalized.indexOf(term); at !== -1; at = normalized.indexOf(term, at + term.length)) {
      hits.push([origin[at]!, originEnd[at + term.length - 1]!]);
    }
  }
  hits.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  const merged: Array<[number, number]> = [];
  for (const hit of hits) {
    const last = merged[merged.length - 1];
    if (last && hit[0] <= last[1]) last[1] = Math.max(last[1], hit[1]);
    else merged.push([hit[0], hit[1]]);
  }
  const first = merged[0];
  const start = first ? Math.max(0, first[0] - radius) : 0;
  const end = Math.min(body.length, (first ? first[1] : 0) + radius * 2);
  // Do not cut a surrogate pair in half.
  const s = start > 0 && isLowSurrogate(body.charCodeAt(start)) ? start - 1 : start;
  const e = end < body.length && isLowSurrogate(body.charCodeAt(end)) ? end + 1 : end;
  const prefix = s > 0 ? "…" : "";
  const text = prefix + body.slice(s, e) + (e < body.length ? "…" : "");
  const shift = prefix.length - s;
  const highlights = merged.filter(([a, b]) => a >= s && b <= e).map(([a, b]): [number, number] => [a + shift, b + shift]);
  return { text, highlights };
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
