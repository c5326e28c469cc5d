/**
 * The deploy bundle, built the way `partykit deploy` (0.0.115) builds it, without uploading it.
 *
 * partykit's CLI has no dry run: `partykit deploy` logs in (getUser) before it bundles anything, and then
 * uploads. So the dry run builds what it would upload with the same esbuild (partykit's own dependency)
 * and the same options, read from partykit.js `deploy()` in node_modules/partykit/dist/bin.mjs:
 * - the entry: `import WorkerSpec from '<main>'; export default WorkerSpec;` plus, for each party in
 *   partykit.json, `import <name>Party from '<path>'; export const <name> = <name>Party;`;
 * - `format: "esm"`, `bundle`, `target: "esnext"`, `conditions: ["partykit", "workerd", "worker"]`,
 *   `define: { PARTYKIT_HOST }` plus partykit.json's `define`, `alias` from its `build.alias`, and
 *   partykit's `inject-process.js`;
 * - partykit's plugins resolve Node built-ins (its own shims for assert, buffer, crypto, events, ...,
 *   unenv polyfills for the rest), `cloudflare:*` modules, `.wasm` and `.bin` files. Here they are left
 *   external and listed, so a built-in the party code starts to import is seen in the dry run's output.
 * And the static assets' build (`serve.build` in partykit.json: the dashboard), with partykit's defaults,
 * into memory: nothing is written to public/dist.
 *
 * What this cannot prove: that Cloudflare accepts the upload (size limits, compatibility date) and that
 * the code starts there; `partykit dev` runs the same sources in workerd in every integration test.
 */
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { builtinModules } from "node:module";
import { isAbsolute, join, relative } from "node:path";
import { gzipSync } from "node:zlib";
import esbuild from "esbuild";

/** The parts of partykit.json the build reads. */
export type PartykitJson = {
  name?: string;
  main?: string;
  parties?: Record<string, string>;
  define?: Record<string, string>;
  build?: { alias?: Record<string, string> };
  serve?: string | { path?: string; build?: string | { entry?: string | string[]; outdir?: string; bundle?: boolean; splitting?: boolean; minify?: boolean; format?: "esm" | "iife" | "cjs"; sourcemap?: boolean; external?: string[]; alias?: Record<string, string>; define?: Record<string, string> } };
};

export type BundleReport = {
  main: string;
  parties: string[];
  bytes: number;
  gzipBytes: number;
  /** Source files in the bundle, and how many come from node_modules. */
  inputs: number;
  packages: string[];
  /** Node built-ins imported by the project's own code (`node:x` <- importer). */
  builtins: string[];
  /** The static assets' build: its entry and output size, when partykit.json has `serve.build`. */
  assets?: { entry: string; bytes: number };
};

/** Above this (gzipped) the upload is refused by Cloudflare on the paid plan (Workers limits; to verify for partykit.dev). */
export const MAX_GZIP_BYTES = 10 * 1024 * 1024;

export class BundleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BundleError";
  }
}

export function readPartykitJson(root: string): PartykitJson {
  return JSON.parse(readFileSync(join(root, "partykit.json"), "utf8")) as PartykitJson;
}

/** Builds the worker bundle (and the assets) in memory; throws BundleError with esbuild's messages on failure. */
export async function buildBundle(root: string, host = "kaiwa.example.partykit.dev"): Promise<BundleReport> {
  const config = readPartykitJson(root);
  if (!config.main) throw new BundleError("partykit.json has no main");
  const main = toPosix(isAbsolute(config.main) ? config.main : join(root, config.main));
  // partykit's getConfig: party names lowercase and not "main", each file present, paths made "./<relative>".
  const parties = Object.entries(config.parties ?? {}).map(([name, path]): [string, string] => {
    if (name !== name.toLowerCase() || name === "main") throw new BundleError(`partykit.json: party name "${name}" must be lowercase and not "main"`);
    const absolute = isAbsolute(path) ? path : join(root, path);
    if (!existsSync(absolute)) throw new BundleError(`partykit.json: could not find party ${name}: ${path}`);
    return [name, "./" + toPosix(relative(root, absolute))];
  });
  const contents = [
    `import WorkerSpec from '${main}'; export default WorkerSpec;`,
    ...parties.map(([name, path]) => `import ${name}Party from '${path}';\nexport const ${name} = ${name}Party;`),
  ].join("\n");

  const builtins = new Set<string>();
  const nodeNames = new Set(builtinModules.filter((m) => !m.startsWith("_")));
  const injectProcess = realpathSync(join(root, "node_modules", "partykit", "inject-process.js"));
  let result: esbuild.BuildResult<{ write: false; metafile: true }>;
  try {
    result = await esbuild.build({
      stdin: { contents, resolveDir: root },
      format: "esm",
      bundle: true,
      write: false,
      outfile: join(root, "kaiwa-deploy-bundle.js"), // a name for the metafile; nothing is written
      target: "esnext",
      conditions: ["partykit", "workerd", "worker"],
      minify: false,
      metafile: true,
      logLevel: "silent",
      define: { PARTYKIT_HOST: JSON.stringify(host), ...(config.define ?? {}) },
      inject: [injectProcess],
      ...(config.build?.alias ? { alias: config.build.alias } : {}),
      plugins: [
        {
          name: "kaiwa-deploy-externals",
          setup(build: esbuild.PluginBuild) {
            build.onResolve({ filter: /.*/ }, (args: esbuild.OnResolveArgs) => {
              const bare = args.path.replace(/^node:/, "").split("/")[0]!;
              const isNode = args.path.startsWith("node:") || nodeNames.has(args.path) || (nodeNames.has(bare) && args.kind !== "entry-point" && !args.path.startsWith("."));
              if (isNode) {
                if (args.importer !== injectProcess) builtins.add(`node:${args.path.replace(/^node:/, "")} <- ${relative(root, args.importer)}`);
                return { path: args.path, external: true };
              }
              if (args.path.startsWith("cloudflare:") || /\.(wasm|bin)(\?module)?$/.test(args.path)) return { path: args.path, external: true };
              return undefined;
            });
          },
        },
      ],
    });
  } catch (error) {
    throw new BundleError(`the worker bundle does not build:\n${esbuildMessages(error)}`);
  }
  const code = result.outputFiles[0]!.contents;
  // What partykit's runtime looks up: the worker's default export and one export per party.
  const exported = new Set(Object.values(result.metafile.outputs)[0]?.exports ?? []);
  const missing = ["default", ...parties.map(([name]) => name)].filter((name) => !exported.has(name));
  if (missing.length) throw new BundleError(`the worker bundle does not export ${missing.join(", ")}`);
  const inputs = Object.keys(result.metafile.inputs);
  const packages = [...new Set(inputs.filter((i) => i.includes("node_modules/")).map(packageOf))].sort();
  const report: BundleReport = {
    main: relative(root, main),
    parties: parties.map(([name]) => name),
    bytes: code.byteLength,
    gzipBytes: gzipSync(code).byteLength,
    inputs: inputs.length,
    packages,
    builtins: [...builtins].sort(),
  };
  if (report.gzipBytes > MAX_GZIP_BYTES) throw new BundleError(`the worker bundle is ${report.gzipBytes} bytes gzipped, above Cloudflare's ${MAX_GZIP_BYTES}`);

  const assets = await buildAssets(root, config);
  if (assets) report.assets = assets;
  return report;
}

/** partykit's `serve.build`, with its defaults (bundle, minify, splitting, esm, sourcemap), into memory. */
async function buildAssets(root: string, config: PartykitJson): Promise<BundleReport["assets"]> {
  const serve = typeof config.serve === "string" ? { path: config.serve } : config.serve;
  const build = typeof serve?.build === "string" ? { entry: serve.build } : serve?.build;
  if (!build?.entry) return undefined;
  const entryPoints = (Array.isArray(build.entry) ? build.entry : [build.entry]).map((e) => join(root, e));
  try {
    const result = await esbuild.build({
      entryPoints,
      absWorkingDir: root,
      outdir: join(root, build.outdir ?? join(serve?.path ?? "public", "dist")),
      write: false,
      bundle: build.bundle ?? true,
      splitting: build.splitting ?? true,
      minify: build.minify ?? true,
      format: build.format ?? "esm",
      sourcemap: build.sourcemap ?? true,
      logLevel: "silent",
      ...(build.external ? { external: build.external } : {}),
      ...(build.alias ? { alias: build.alias } : {}),
      define: { PARTYKIT_HOST: JSON.stringify("kaiwa.example.partykit.dev"), ...(config.define ?? {}), ...(build.define ?? {}) },
    });
    return { entry: entryPoints.map((e) => relative(root, e)).join(", "), bytes: result.outputFiles.reduce((sum, f) => sum + f.contents.byteLength, 0) };
  } catch (error) {
    throw new BundleError(`the static assets (serve.build in partykit.json) do not build:\n${esbuildMessages(error)}`);
  }
}

function esbuildMessages(error: unknown): string {
  const errors = (error as { errors?: esbuild.Message[] }).errors;
  if (!errors?.length) return `  ${(error as Error).message}`;
  return esbuild
    .formatMessagesSync(errors, { kind: "error", color: false })
    .join("")
    .trimEnd()
    .split("\n")
    .map((line) => `  ${line}`)
    .join("\n");
}

function packageOf(input: string): string {
  const after = input.slice(input.lastIndexOf("node_modules/") + "node_modules/".length).split("/");
  return after[0]!.startsWith("@") ? `${after[0]}/${after[1]}` : after[0]!;
}

function toPosix(path: string): string {
  return path.replace(/\\/g, "/");
}
