/**
 * Runs the archive database for development and tests, in its own process (PGlite's WASM engine would
 * otherwise compete with whoever embeds it for one event loop):
 *   node --import tsx db/serve.ts --pglite <dir> [--bridge-port N]   embedded PGlite + bridge, migrated
 *   node --import tsx db/serve.ts --target host:port [--bridge-port N]   bridge only, to a real Postgres
 * Prints one JSON line `{"ready":true,"bridgePort":N,...}` once it accepts connections; SIGTERM/SIGINT
 * stop it cleanly (PGlite flushes its files).
 */
import { parseArgs } from "node:util";
import { startBridge } from "./bridge.ts";
import { startEmbedded } from "./embedded.ts";
import { migrate } from "./migrate.ts";

const { values } = parseArgs({
  options: { pglite: { type: "string" }, target: { type: "string" }, "bridge-port": { type: "string" }, "no-migrate": { type: "boolean" } },
});
const bridgePort = values["bridge-port"] ? Number(values["bridge-port"]) : undefined;

let stop: () => Promise<void>;
let port: number;
let url: string;
if (values.pglite) {
  const embedded = await startEmbedded(values.pglite, bridgePort === undefined ? {} : { bridgePort });
  ({ stop } = embedded);
  port = embedded.bridge.port;
  // PGlite ignores user, password and database name; the URL only has to be well formed.
  url = "postgres://postgres:postgres@127.0.0.1:5432/postgres";
} else if (values.target) {
  const [host = "127.0.0.1", targetPort = "5432"] = values.target.split(":");
  const bridge = await startBridge({ target: { host, port: Number(targetPort) }, serial: false, ...(bridgePort === undefined ? {} : { port: bridgePort }) });
  stop = bridge.close;
  port = bridge.port;
  url = "";
} else {
  console.error("usage: db/serve.ts --pglite <dir> | --target host:port [--bridge-port N]");
  process.exit(2);
}
const wsProxy = `127.0.0.1:${port}`;
if (values.pglite && !values["no-migrate"]) await migrate({ url, wsProxy });
console.log(JSON.stringify({ ready: true, bridgePort: port, wsProxy, url }));

let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    stop().finally(() => process.exit(0));
  });
}
