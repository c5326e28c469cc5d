/**
 * PROTOCOL.md defines every invariant (I1-I9) and rule (R…, IB…) that code and tests cite; this keeps the
 * two in step. It reads the definitions from PROTOCOL.md's bold labels at the start of a line (`**R5 …**`),
 * finds citations in the comments and string literals of every script under party/, client/, tests/, bench/,
 * scripts/, dashboard/, examples/ and public/ (what public/ serves is built from dashboard/ and examples/), and
 * in the prose of README.md, SECURITY.md, docs/CAPACITY.md and bench/RESULTS.md (the form is PROTOCOL
 * §0.2's), and fails on:
 *   (a) a cited id, or numbered item of a rule (R2.4), that PROTOCOL.md does not define (file:line), in code
 *       or in PROTOCOL.md itself;
 *   (b) a defined id that no test (tests/**\/*.test.ts) cites;
 *   (c) a citation in code not written in the one form, `PROTOCOL <id>` (file:line);
 *   (d) an index (PROTOCOL §0.3) that does not list exactly the defined ids, or a header (PROTOCOL.md's
 *       opening paragraph, naming the rule ranges) that does not name exactly the defined ids, each once.
 * Only comments and string literals are read (with the TypeScript parser), so identifiers never count, and an
 * id must stand alone in an exact shape: `I18n`, `R2D2`, `#R5`, `0xI1`, `dm:R1` are not citations.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const PROTOCOL_MD = join(ROOT, "party/protocol/PROTOCOL.md");
/** Folders whose scripts are scanned (a missing one is skipped: dashboard/ is optional). */
const SCANNED = ["party", "client", "tests", "bench", "scripts", "dashboard", "examples", "public"].filter((dir) => existsSync(join(ROOT, dir)));
/** Built or generated output inside them: never written by hand, not scanned. */
const NOT_SCANNED = new Set(["public/dist", "bench/out"]);
const SCRIPT = /\.(?:ts|mts|js|mjs)$/;
/** Prose that cites rules, read whole. */
const PROSE = ["README.md", "SECURITY.md", "docs/CAPACITY.md", "bench/RESULTS.md"];
const SELF = relative(ROOT, fileURLToPath(import.meta.url));

// ---- The citation grammar.

/** One id: I<n>, IB<n>, or R<n> with an optional letter (R3a, R14a). No leading zero. */
const ID = String.raw`(?:IB[1-9]\d*|I[1-9]\d*|R[1-9]\d*[a-z]?)`;
/** An id, then optionally a numbered clause of a rule (R2.4) or a range's far end (I1-I4, R14–R16). */
const ITEM = String.raw`${ID}(?:\.[1-9]\d*)?(?:[-–]${ID})?`;
/**
 * A citation list: items joined by ", " or " and ". Not preceded by a word character or one of `$ # . @ / \ : -`
 * (CSS, hex, paths, `dm:` ids, kebab names); not followed by a word character, `$`, or a hyphen that does not
 * start a range (`R2-D2`), or a dot and a word character (`R2.x`; `R2.4` is read as a clause above).
 */
const LIST = new RegExp(
  String.raw`(?<![\w$#.@/\\:-])${ITEM}(?:(?:, | and )${ITEM})*(?![\w$])(?!\.\w)(?!-(?!${ID}))`,
  "g",
);
/**
 * Cloudflare R2 (the object store), not rule R2: `Cloudflare R2`, `R2 bucket`, `R2 API token`, `R2 is another
 * matter`, `R2 (Parquet`, `R2 or the Cache API`, `(R2: \`auto\`)`. Its `R2` is blanked before the text is read.
 */
const PRODUCT_R2 = /Cloudflare R2\b|(?<![\w$#.@/\\:-])R2(?= bucket| API| is another| \(Parquet| or the Cache API|: `auto`)/g;
const withoutProductNames = (text: string) => text.replace(PRODUCT_R2, (m) => m.replace("R2", "  "));
const ITEM_RE = new RegExp(String.raw`(${ID})(?:\.([1-9]\d*))?(?:[-–](${ID}))?`, "g");
const PREFIX = "PROTOCOL ";

interface Citation {
  /** Ids cited, ranges expanded. */
  ids: string[];
  /** Numbered items cited, as `R2.4`. */
  items: string[];
  /** The list as written. */
  text: string;
  /** Written as `PROTOCOL <list>`. */
  standard: boolean;
  /** 1-based line. */
  line: number;
}

function family(id: string): { kind: string; n: number; letter: string } {
  const m = /^(IB|I|R)(\d+)([a-z]?)$/.exec(id);
  if (!m) throw new Error(`not an id: ${id}`);
  return { kind: m[1]!, n: Number(m[2]), letter: m[3]! };
}

/** Ids a list names: `I1-I4` is I1, I2, I3, I4 (a range spans plain numbers of one kind). */
function expand(list: string): string[] {
  const ids: string[] = [];
  for (const m of list.matchAll(ITEM_RE)) {
    const from = m[1]!;
    const to = m[3];
    if (to === undefined) {
      ids.push(from);
      continue;
    }
    const a = family(from);
    const b = family(to);
    if (a.kind !== b.kind || a.n >= b.n) {
      ids.push(`${from}-${to}`); // an impossible range: reported as undefined
      continue;
    }
    ids.push(from);
    for (let n = a.n + 1; n < b.n; n++) ids.push(`${a.kind}${n}`);
    ids.push(to);
  }
  return ids;
}

/** Numbered items a list names: `R2.4` (a clause of a range's start is not one). */
function itemsOf(list: string): string[] {
  return [...list.matchAll(ITEM_RE)].filter((m) => m[2] !== undefined && m[3] === undefined).map((m) => `${m[1]}.${m[2]}`);
}

/** Citations in `text`, which starts at `offset` of a file; `lineOf` maps a file offset to its line. */
function citationsIn(text: string, offset = 0, lineOf: (pos: number) => number = () => 1): Citation[] {
  const found: Citation[] = [];
  for (const m of text.matchAll(LIST)) {
    const at = m.index!;
    found.push({
      ids: expand(m[0]),
      items: itemsOf(m[0]),
      text: m[0],
      standard: text.slice(Math.max(0, at - PREFIX.length), at) === PREFIX,
      line: lineOf(offset + at),
    });
  }
  return found;
}

// ---- Self-test of the grammar: what counts and what does not.

test("the citation pattern reads citations and nothing else", () => {
  const ids = (s: string) => citationsIn(s).map((c) => c.ids);
  const forms = (s: string) => citationsIn(s).map((c) => c.standard);
  // Citations, in every shape the code uses.
  assert.deepEqual(ids("durable first (PROTOCOL I2)."), [["I2"]]);
  assert.deepEqual(ids("PROTOCOL I5: a resume"), [["I5"]]);
  assert.deepEqual(ids("(PROTOCOL R3a, R14a and IB2)"), [["R3a", "R14a", "IB2"]]);
  assert.deepEqual(ids("PROTOCOL I1-I4 end to end"), [["I1", "I2", "I3", "I4"]]);
  assert.deepEqual(ids("PROTOCOL R14–R16"), [["R14", "R15", "R16"]]);
  assert.deepEqual(ids("(PROTOCOL R2.4)"), [["R2"]]);
  assert.deepEqual(citationsIn("PROTOCOL R2.4, R8.1 and I3").map((c) => c.items), [["R2.4", "R8.1"]]);
  assert.deepEqual(ids("ends the sentence: PROTOCOL R17."), [["R17"]]);
  assert.deepEqual(ids("PROTOCOL IB10"), [["IB10"]]);
  // The one form: `PROTOCOL <list>`; anything else is a citation in a non-standard form.
  assert.deepEqual(forms("PROTOCOL R5 (I4) PROTOCOL.md R15 §4 R5 R5: (R5)"), [true, false, false, false, false, false]);
  assert.deepEqual(forms("(I7, PROTOCOL R14a)"), [false, true]);
  // Not citations: identifiers, words, CSS, hex, paths, ids inside other tokens.
  for (const text of [
    "I18n", "R2D2", "R2-D2", "IBM", "I/O", "RGB", "R2d2", "IB", "I0", "R0", "R07", "I01",
    "#R5", "#I1", "color: #1E1E1E", "0xI1", "0xR5", "$R1", "@I1", "a.R5", "dm:R1", "g:I3", "x-R5", "/R5/",
    "room-I1", "R5xy", "I3_b", "I3$", "r5", "i3", "ib2", "IPv4", "R2.x", "UTF-8", "HTTP/2", "ES2022",
    "E1", "V1StGXR8_Z5jdHi6B-myT", "aR5", "XI1",
  ]) {
    assert.deepEqual(ids(text), [], text);
  }
  // The object store's name in prose is not rule R2; the rule still is.
  for (const text of ["Cloudflare R2 in production", "an R2 API token", "the R2 bucket", "R2 is another matter", "to R2 (Parquet)", "(to R2 or the Cache API)", "(R2: `auto`)"]) {
    assert.deepEqual(ids(withoutProductNames(text)), [], text);
  }
  assert.deepEqual(ids(withoutProductNames("(R2) and PROTOCOL R2.4 with Cloudflare R2")), [["R2"], ["R2"]]);
});

// ---- PROTOCOL.md: definitions, its own citations, its index.

const protocolText = readFileSync(PROTOCOL_MD, "utf8");
const protocolLines = protocolText.split("\n");

/** `**R5 Per-session order (I4).**` at the start of a line defines R5. */
const DEFINITION = new RegExp(String.raw`^\*\*(${ID}) [^*]+\*\*`);
const defined: string[] = [];
const definedAt = new Map<string, number[]>();
protocolLines.forEach((line, i) => {
  const m = DEFINITION.exec(line);
  if (!m) return;
  const id = m[1]!;
  if (!definedAt.has(id)) defined.push(id);
  definedAt.set(id, [...(definedAt.get(id) ?? []), i + 1]);
});
const isDefined = (id: string) => definedAt.has(id);
/** `R2.4` exists when R2's paragraph (its label line to the next blank line) has a line starting `4. `. */
const itemDefined = (item: string) => {
  const [id, k] = item.split(".") as [string, string];
  const at = definedAt.get(id)?.[0];
  if (at === undefined) return false;
  const end = protocolLines.findIndex((l, i) => i >= at && l.trim() === "");
  return protocolLines.slice(at, end < 0 ? undefined : end).some((l) => l.trimStart().startsWith(`${k}. `));
};
/** Index order: invariants, then R rules, then IB rules; by number; R3 before R3a. */
const byId = (a: string, b: string) => {
  const x = family(a);
  const y = family(b);
  const kinds = ["I", "R", "IB"];
  return kinds.indexOf(x.kind) - kinds.indexOf(y.kind) || x.n - y.n || x.letter.localeCompare(y.letter);
};

test("PROTOCOL.md defines I1-I9 and its rules, each once", () => {
  const twice = [...definedAt].filter(([, lines]) => lines.length > 1).map(([id, lines]) => `${id} (lines ${lines.join(", ")})`);
  assert.deepEqual(twice, [], "defined more than once");
  for (let n = 1; n <= 9; n++) assert.ok(isDefined(`I${n}`), `I${n} is not defined in PROTOCOL.md`);
  assert.ok(defined.some((id) => id.startsWith("R")), "no R rule found");
  assert.ok(defined.some((id) => id.startsWith("IB")), "no IB rule found");
});

test("(d) PROTOCOL.md's index (§0.3) lists exactly the defined ids: invariants, R rules, IB rules, by number", () => {
  const start = protocolLines.findIndex((l) => /^### 0\.3 /.test(l));
  assert.ok(start >= 0, "PROTOCOL.md has no '### 0.3' index");
  const end = protocolLines.findIndex((l, i) => i > start && /^#{2,3} /.test(l));
  const listed: string[] = [];
  for (const line of protocolLines.slice(start + 1, end < 0 ? undefined : end)) {
    const m = new RegExp(String.raw`^\| (${ID}) \|`).exec(line);
    if (m) listed.push(m[1]!);
  }
  assert.deepEqual(listed, [...defined].sort(byId));
});

/** The ids PROTOCOL.md's header names: its bold ids and ranges (`**R1–R15**`) before the first section. */
function headerIds(lines: string[]): string[] {
  const end = lines.findIndex((l) => /^## /.test(l));
  const header = lines.slice(0, end < 0 ? undefined : end).join("\n");
  const named: string[] = [];
  for (const m of header.matchAll(/\*\*([^*]+)\*\*/g)) {
    if (!new RegExp(String.raw`^${ID}(?:[-–]${ID})?$`).test(m[1]!)) continue;
    named.push(...expand(m[1]!));
  }
  return named;
}

test("(d) PROTOCOL.md's header names exactly the defined ids, each once", () => {
  const named = headerIds(protocolLines);
  assert.ok(named.length > 0, "PROTOCOL.md's header names no rule range");
  const twice = named.filter((id, i) => named.indexOf(id) !== i);
  assert.deepEqual(twice, [], "named twice in the header");
  assert.deepEqual([...new Set(named)].sort(byId), [...defined].sort(byId));
});

test("(a) PROTOCOL.md cites only ids it defines", () => {
  const problems: string[] = [];
  protocolLines.forEach((line, i) => {
    for (const c of citationsIn(line)) {
      for (const id of c.ids) if (!isDefined(id)) problems.push(`PROTOCOL.md:${i + 1}: ${id} (in "${c.text}")`);
      for (const item of c.items) if (!itemDefined(item)) problems.push(`PROTOCOL.md:${i + 1}: no item ${item}`);
    }
  });
  assert.deepEqual(problems, []);
});

// ---- Code: comments and string literals of every .ts file under the scanned folders.

function scripts(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== "node_modules" && !NOT_SCANNED.has(relative(ROOT, path))) out.push(...scripts(path));
    else if (entry.isFile() && SCRIPT.test(entry.name) && !entry.name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

/** Every comment and string literal of a TypeScript file, as [start, end) ranges of its text. */
function proseRanges(file: ts.SourceFile): Array<[number, number]> {
  const text = file.text;
  const comments = new Map<number, number>();
  const strings: Array<[number, number]> = [];
  const visit = (node: ts.Node): void => {
    for (const r of ts.getLeadingCommentRanges(text, node.getFullStart()) ?? []) comments.set(r.pos, r.end);
    switch (node.kind) {
      case ts.SyntaxKind.StringLiteral:
      case ts.SyntaxKind.NoSubstitutionTemplateLiteral:
      case ts.SyntaxKind.TemplateHead:
      case ts.SyntaxKind.TemplateMiddle:
      case ts.SyntaxKind.TemplateTail:
        strings.push([node.getStart(file), node.end]);
        return;
    }
    for (const child of node.getChildren(file)) visit(child);
  };
  visit(file);
  return [...comments, ...strings];
}

interface Found extends Citation {
  file: string;
}

function citationsOfFile(path: string): Found[] {
  const text = readFileSync(path, "utf8");
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, /\.m?js$/.test(path) ? ts.ScriptKind.JS : ts.ScriptKind.TS);
  const lineOf = (pos: number) => file.getLineAndCharacterOfPosition(pos).line + 1;
  const rel = relative(ROOT, path);
  return proseRanges(file).flatMap(([from, to]) =>
    citationsIn(withoutProductNames(text.slice(from, to)), from, lineOf).map((c) => ({ ...c, file: rel })),
  );
}

/** Citations in a prose file (Markdown): its whole text, line by line, Cloudflare R2 aside. */
function citationsOfProse(rel: string): Found[] {
  return readFileSync(join(ROOT, rel), "utf8")
    .split("\n")
    .flatMap((line, i) => citationsIn(withoutProductNames(line)).map((c) => ({ ...c, line: i + 1, file: rel })));
}

const files = SCANNED.flatMap((dir) => scripts(join(ROOT, dir)))
  .filter((path) => relative(ROOT, path) !== SELF)
  .sort();
const citations = [...files.flatMap(citationsOfFile), ...PROSE.flatMap(citationsOfProse)].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
const where = (c: Found) => `${c.file}:${c.line}`;

test("the scan finds the code's citations", () => {
  assert.ok(files.length > 50, `only ${files.length} .ts files found`);
  assert.ok(citations.length > 100, `only ${citations.length} citations found`);
  for (const dir of ["bench/", "scripts/", "dashboard/", "examples/"]) assert.ok(files.some((f) => relative(ROOT, f).startsWith(dir)), `no script of ${dir} scanned`);
  for (const rel of PROSE) assert.ok(citations.some((c) => c.file === rel), `no citation found in ${rel}`);
  assert.ok(!files.some((f) => relative(ROOT, f).startsWith("public/dist/")), "built output is not scanned");
});

test("(a) every citation in the scanned code and prose names an id PROTOCOL.md defines", () => {
  const problems = citations.flatMap((c) => [
    ...c.ids.filter((id) => !isDefined(id)).map((id) => `${where(c)}: ${id} is not defined in PROTOCOL.md (in "${c.text}")`),
    ...c.items.filter((item) => isDefined(item.split(".")[0]!) && !itemDefined(item)).map((item) => `${where(c)}: PROTOCOL.md has no item ${item}`),
  ]);
  assert.deepEqual(problems, [], `cited but not defined:\n${problems.join("\n")}`);
});

test("(b) every invariant and rule PROTOCOL.md defines is cited by a test", () => {
  const cited = new Set(citations.filter((c) => c.file.startsWith("tests/") && c.file.endsWith(".test.ts")).flatMap((c) => c.ids));
  const uncited = defined.filter((id) => !cited.has(id));
  assert.deepEqual(uncited, [], `defined in PROTOCOL.md, cited by no tests/**/*.test.ts: ${uncited.join(", ")}`);
});

test("(c) every citation in code and prose has the form `PROTOCOL <id>` (PROTOCOL §0.2)", () => {
  const problems = citations.filter((c) => !c.standard).map((c) => `${where(c)}: "${c.text}" -> "PROTOCOL ${c.text}"`);
  assert.deepEqual(problems, [], `${problems.length} citations not in the form PROTOCOL <id>:\n${problems.join("\n")}`);
});
