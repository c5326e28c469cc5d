/**
 * Loaded into `partykit dev`'s Node process with `--import` (bench only; KaiwaTarget `requestLog: false`).
 *
 * partykit 0.0.115 builds its miniflare logger at the verbose level (`new Log(5)`, hard-coded), and at
 * INFO or above miniflare's entry worker reports every request it serves to Node: a subrequest from
 * workerd to Node's loopback server, which Node parses and prints, and the bench then reads from the
 * pipe. That is the dev server's log, not kaiwa's work, and no production edge has it.
 *
 * miniflare reads the level from the `Log` it is given (`log.level`), and `Log`'s constructor assigns it
 * (`this.level = level`), so an accessor on the prototype caps what every logger keeps. Warnings and
 * errors still print. tests/integration/bench-dev-log.integration.test.ts proves the request lines go
 * away with this file loaded and appear without it, so a partykit or miniflare that moves the level
 * fails that test instead of quietly measuring with the log on.
 */
import { Log } from "miniflare";

const WARN = 2; // miniflare's LogLevel.WARN
const own = Symbol("kaiwa.logLevel");

Object.defineProperty(Log.prototype, "level", {
  configurable: true,
  get() {
    return this[own];
  },
  set(level) {
    this[own] = Math.min(level, WARN);
  },
});
