/**
 * PROTOCOL R76: the client build marks the protocol's top-level initializers pure (scripts/pure-annotations.ts),
 * so esbuild drops a schema nothing uses, and a used one is unchanged once minified.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { build } from "esbuild";
import { annotatePureCalls } from "../../scripts/pure-annotations.ts";

const SOURCE = [
  'import * as z from "zod/mini";',
  "const LIMITS = { max: 64 };",
  "const base = { id: z.string() };",
  "export const Used = z.object({ ...base, name: z.string().check(z.maxLength(LIMITS.max)) });",
  "export const Unused = z.object({ ...base, marker: z.string().check(z.maxLength(LIMITS.max + 9999)) });",
  "export const helper = (max: number) => z.string().check(z.maxLength(max));",
  "export function check(value: unknown) { return Used.safeParse(value).success; }",
].join("\n");

test("PROTOCOL R76: each top-level initializer but functions and literals is wrapped in a pure arrow", () => {
  const out = annotatePureCalls(SOURCE);
  assert.match(out, /export const Used = \/\* @__PURE__ \*\/ \(\(\) => \(z\.object\(\{ \.\.\.base, name: z\.string\(\)\.check\(z\.maxLength\(LIMITS\.max\)\) \}\)\)\)\(\);/);
  assert.match(out, /const LIMITS = \/\* @__PURE__ \*\/ \(\(\) => \(\{ max: 64 \}\)\)\(\);/);
  assert.match(out, /export const helper = \(max: number\) => z\.string\(\)/, "an arrow stays as written");
  assert.match(out, /export function check\(value: unknown\) \{ return Used\.safeParse/, "a function stays as written");
});

test("PROTOCOL R76: bundled, an unused schema is dropped, a used one stays and the minifier removes the wrapper", async () => {
  const bundle = async (annotate: boolean) => {
    const result = await build({
      stdin: { contents: 'import { check } from "./schemas.ts"; console.log(check({ id: "a", name: "b" }));', resolveDir: import.meta.dirname, loader: "ts" },
      bundle: true, minify: true, format: "esm", platform: "neutral", write: false, logLevel: "silent", external: ["zod/mini"],
      plugins: [{ name: "schemas", setup(b) {
        b.onResolve({ filter: /^\.\/schemas\.ts$/ }, () => ({ path: "/virtual/schemas.ts", namespace: "v" }));
        b.onLoad({ filter: /.*/, namespace: "v" }, () => ({ contents: annotate ? annotatePureCalls(SOURCE) : SOURCE, loader: "ts", resolveDir: import.meta.dirname }));
      } }],
    });
    return result.outputFiles[0]!.text;
  };
  const plain = await bundle(false);
  const annotated = await bundle(true);
  assert.ok(plain.includes("9999"), "without the marks esbuild keeps the unused schema (the reason for this plugin)");
  assert.ok(!annotated.includes("9999"), "with them it is dropped");
  assert.match(annotated, /max:64/, "the used schema and what it reads stay");
  assert.ok(!annotated.includes("(()=>"), "the used schema's wrapper is inlined by the minifier");
});
