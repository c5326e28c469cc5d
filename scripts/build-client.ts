/**
 * `npm run build`: the installable client. Writes to dist/ (or `--out DIR`):
 * - `client.js`, `protocol.js`: ESM for `kaiwa/client` and `kaiwa/protocol`, dependencies (zod, partysocket,
 *   nanoid) left as imports so an app's bundler shares them. Each is whole, without a shared chunk: a chunk
 *   holding all of the protocol would be kept whole in every app's bundle, where `client.js` alone carries
 *   only the schemas the client parses with;
 * - `client-files.js`, `client-poller.js`, `client-search.js`, `react.js`: the optional entries `kaiwa/client/files`,
 *   `kaiwa/client/poller`, `kaiwa/client/search` and `kaiwa/react` (PROTOCOL R76, R77), importing the client
 *   itself from `kaiwa/client`;
 * - `types/`: declarations from `tsc --emitDeclarationOnly` (skipped with `--no-types`);
 * - `kaiwa-client.browser.js`: `client.js` with its dependencies, minified, for a `<script type="module">`
 *   with no bundler, and the figure the README and the size budget (tests/unit/client-bundle-size.test.ts) use;
 * - `kaiwa-client-search.browser.js`: `client-search.js` likewise, taking the client from `./kaiwa-client.browser.js`
 *   beside it (one KaiwaError class on the page).
 * esbuild and tsc are already the project's tools (partykit bundles with esbuild); tsup would add a layer
 * and rollup for the declarations without doing more here.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { build, type BuildOptions, type Plugin } from "esbuild";
import { pureCallsPlugin } from "./pure-annotations.ts";

const ROOT = resolve(import.meta.dirname, "..");

/** `inputs`: the files the browser bundle holds code of. */
export type ClientBuild = { outDir: string; browserBundle: string; searchBrowserBundle: string; minifiedBytes: number; gzippedBytes: number; inputs: string[] };

/**
 * The client and the protocol have no top-level side effects (schemas and constants only), so a module whose
 * exports nothing uses is dropped (e.g. the room's query-string schemas in connect.ts, which only the server
 * reads). Said here rather than in package.json, where it would also govern partykit's bundling of the server.
 */
const sideEffectFree: Plugin = {
  name: "kaiwa-side-effect-free",
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      const path = resolve(args.resolveDir, args.path);
      const inRepo = relative(ROOT, path);
      if (inRepo.startsWith("client/") || inRepo.startsWith("party/protocol/")) return { path, sideEffects: false };
      return undefined;
    });
  },
};

/** The optional entries beside `client.js`: package.json `exports` names each (`kaiwa/client/files`, ...). */
const SUBPATH_ENTRIES = {
  "client-files": join(ROOT, "client/files.ts"),
  "client-poller": join(ROOT, "client/log-poller.ts"),
  "client-search": join(ROOT, "client/search.ts"),
  react: join(ROOT, "client/react.ts"),
};
/** What `kaiwa/client` exports, resolved to that package entry when a subpath entry imports it. */
const KAIWA_CLIENT_MODULES = new Set(["client/index.ts", "client/errors.ts"]);

/** In a browser bundle of an optional entry: `kaiwa/client` is the client's browser bundle beside it. */
const clientBesideIt: Plugin = {
  name: "kaiwa-client-beside-it",
  setup(b) {
    b.onResolve({ filter: /^kaiwa\/client$/ }, () => ({ path: "./kaiwa-client.browser.js", external: true }));
  },
};

const fromKaiwaClient: Plugin = {
  name: "kaiwa-from-client",
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      const inRepo = relative(ROOT, resolve(args.resolveDir, args.path)).replaceAll("\\", "/");
      return KAIWA_CLIENT_MODULES.has(inRepo) ? { path: "kaiwa/client", external: true } : undefined;
    });
  },
};

export async function buildClient(options: { outDir?: string; types?: boolean } = {}): Promise<ClientBuild> {
  const outDir = resolve(options.outDir ?? join(ROOT, "dist"));
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const pure = pureCallsPlugin(/[\\/]party[\\/]protocol[\\/][^\\/]+\.ts$/);
  const esm = { bundle: true, format: "esm", platform: "neutral", target: "es2022", outdir: outDir, logLevel: "warning" } as const;
  await build({
    ...esm,
    entryPoints: { client: join(ROOT, "client/index.ts"), protocol: join(ROOT, "party/protocol/index.ts") },
    packages: "external",
    plugins: [sideEffectFree, pure],
  });
  // The optional parts (PROTOCOL R76, R77) import the client's classes from "kaiwa/client" rather than carry
  // copies: one KaiwaError class (instanceof) and one KaiwaRoom whichever entries an app imports.
  await build({ ...esm, entryPoints: SUBPATH_ENTRIES, packages: "external", plugins: [fromKaiwaClient, sideEffectFree, pure] });
  const browser = {
    bundle: true,
    minify: true,
    format: "esm",
    // "browser" resolves each package's browser build (nanoid's uses crypto.getRandomValues); a Node-only
    // import would fail this build, and the conformance test runs these same files in Node, Deno and Bun.
    platform: "browser",
    target: "es2022",
    metafile: true,
    // The packages as installed with this repo, wherever the build is written (tests write to a temp dir).
    nodePaths: [join(ROOT, "node_modules")],
    logLevel: "warning",
  } satisfies BuildOptions;
  const browserBundle = join(outDir, "kaiwa-client.browser.js");
  const result = await build({ ...browser, entryPoints: [join(outDir, "client.js")], outfile: browserBundle });
  // Search is an entry of its own (PROTOCOL R76); a page without a bundler imports it beside the client.
  const searchBrowserBundle = join(outDir, "kaiwa-client-search.browser.js");
  await build({ ...browser, entryPoints: [join(outDir, "client-search.js")], outfile: searchBrowserBundle, plugins: [clientBesideIt] });
  if (options.types !== false) emitDeclarations(join(outDir, "types"));
  const code = readFileSync(browserBundle);
  return {
    outDir,
    browserBundle,
    searchBrowserBundle,
    minifiedBytes: code.length,
    gzippedBytes: gzipSync(code, { level: 9 }).length,
    // What the bundle holds code of (the metafile also lists modules reached and then shaken out whole).
    inputs: Object.values(result.metafile.outputs).flatMap((output) => Object.entries(output.inputs).filter(([, used]) => used.bytesInOutput > 0).map(([input]) => input)),
  };
}

function emitDeclarations(typesDir: string): void {
  const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
  const args = [tsc, "-p", join(ROOT, "tsconfig.build.json"), "--outDir", typesDir];
  const run = spawnSync(process.execPath, args, { cwd: ROOT, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`tsc --emitDeclarationOnly failed:\n${run.stdout}${run.stderr}`);
  // The sources import "./room.ts" (run as-is by tsx, Deno and Bun); declarations name "./room.js", which
  // every TypeScript setup resolves to room.d.ts.
  for (const file of readdirSync(typesDir, { recursive: true, encoding: "utf8" })) {
    if (!file.endsWith(".d.ts")) continue;
    const path = join(typesDir, file);
    writeFileSync(path, readFileSync(path, "utf8").replace(/(from\s+["']\.{1,2}\/[^"']*?)\.ts(["'])/g, "$1.js$2"));
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const outIndex = process.argv.indexOf("--out");
  const built = await buildClient({ ...(outIndex > 0 ? { outDir: process.argv[outIndex + 1] } : {}), types: !process.argv.includes("--no-types") });
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
  console.log(`built ${relative(process.cwd(), built.outDir) || "."}: kaiwa/client in a browser ${kb(built.minifiedBytes)} minified, ${kb(built.gzippedBytes)} gzipped (${relative(process.cwd(), built.browserBundle)})`);
}
