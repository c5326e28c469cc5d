/**
 * The `--env-file` of `npm run deploy`: dotenv's format (what `.env.production` files are written in),
 * parsed strictly, because a deploy must not guess. One `NAME=value` a line; blank lines and `#` comments;
 * an optional `export ` prefix; values bare (a ` #` starts a comment), in single quotes (literal) or in
 * double quotes (`\n`, `\"` and `\\` escapes). A line that is none of these, or a name given twice, is an
 * error naming the file and line. Values are never echoed: they are often secrets.
 */
export type EnvFileEntry = { value: string; line: number };

export class EnvFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EnvFileError";
  }
}

const LINE = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/;

/** Parses `text` (the file named `name` in errors) into its variables, in file order. */
export function parseEnvFile(text: string, name: string): Map<string, EnvFileEntry> {
  const entries = new Map<string, EnvFileEntry>();
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (/^\s*(#.*)?$/.test(raw)) return;
    const match = LINE.exec(raw);
    if (!match) throw new EnvFileError(`${name}:${line}: expected NAME=value (the value is not shown)`);
    const [, key, rest] = match as unknown as [string, string, string];
    const value = parseValue(rest, `${name}:${line}`);
    const earlier = entries.get(key);
    if (earlier) throw new EnvFileError(`${name}:${line}: ${key} is set twice (lines ${earlier.line} and ${line}); keep one`);
    entries.set(key, { value, line });
  });
  return entries;
}

function parseValue(rest: string, where: string): string {
  const quote = rest[0];
  if (quote === "'" || quote === '"') {
    const end = findClosingQuote(rest, quote);
    if (end < 0) throw new EnvFileError(`${where}: the value's ${quote === "'" ? "single" : "double"} quote is not closed`);
    const after = rest.slice(end + 1).trim();
    if (after && !after.startsWith("#")) throw new EnvFileError(`${where}: unexpected text after the quoted value`);
    const body = rest.slice(1, end);
    return quote === "'" ? body : body.replace(/\\([n"\\])/g, (_, c: string) => (c === "n" ? "\n" : c));
  }
  const comment = rest.search(/\s#/);
  return (comment >= 0 ? rest.slice(0, comment) : rest).trim();
}

function findClosingQuote(rest: string, quote: string): number {
  for (let i = 1; i < rest.length; i++) {
    if (quote === '"' && rest[i] === "\\") {
      i++;
      continue;
    }
    if (rest[i] === quote) return i;
  }
  return -1;
}
