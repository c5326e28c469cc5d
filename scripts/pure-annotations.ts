/**
 * An esbuild plugin for the client build: marks every top-level `const` initializer of the given files as
 * pure, so a schema nothing uses is dropped from the bundle (PROTOCOL R76).
 *
 * Why: party/protocol/ defines the whole protocol's schemas in a few modules, the client parses only what the
 * server sends it, and the rest (the room's settings, token claims, the frames clients send, ...) stayed in
 * the browser bundle: esbuild must assume a call such as `z.string().check(z.maxLength(64))` has side
 * effects (zod's own `@__NO_SIDE_EFFECTS__` marks are not followed across modules), so an unused
 * `export const X = z.object({...})` was kept, ~0.8 KiB gzipped of them. The protocol's modules have no
 * side effects by rule (tests/unit/layering.test.ts: pure, importing only zod), so marking their top-level
 * initializers pure is true. The marks also stay in the unminified `dist/*.js`, for an app's own bundler.
 * TypeScript's parser (already the project's compiler) finds the initializers; babel's annotate-pure-calls
 * plugin does a similar job but would add Babel to the build for these few lines.
 */
import { readFileSync } from "node:fs";
import type { Plugin } from "esbuild";
import ts from "typescript";

/**
 * The source with each top-level variable's initializer wrapped as `/* @__PURE__ *\/ (() => (init))()`: unused,
 * the whole initializer goes; used, esbuild's minifier inlines the arrow back to `init`. Marking the calls
 * alone would not do: esbuild also keeps a call whose arguments read a property (`z.maxLength(LIMITS.maxTitleChars)`)
 * or spread an object (`{ ...eventBase }`), since either could run a getter. Functions are left as they are.
 */
export function annotatePureCalls(source: string, fileName = "file.ts"): string {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const edits: Array<{ at: number; text: string }> = [];
  for (const statement of file.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    for (const { initializer } of statement.declarationList.declarations) {
      if (!initializer || ts.isArrowFunction(initializer) || ts.isFunctionExpression(initializer) || ts.isLiteralExpression(initializer)) continue;
      edits.push({ at: initializer.getStart(file), text: "/* @__PURE__ */ (() => (" }, { at: initializer.end, text: "))()" });
    }
  }
  let out = source;
  for (const { at, text } of edits.sort((a, b) => b.at - a.at)) out = out.slice(0, at) + text + out.slice(at);
  return out;
}

/** Applies `annotatePureCalls` to every file whose path `filter` matches. */
export function pureCallsPlugin(filter: RegExp): Plugin {
  return {
    name: "kaiwa-pure-calls",
    setup(build) {
      build.onLoad({ filter }, (args) => ({ contents: annotatePureCalls(readFileSync(args.path, "utf8"), args.path), loader: "ts" }));
    },
  };
}
