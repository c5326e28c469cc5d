/**
 * Wires a room's ReportCoalescer (party/core/report-coalescer.ts) to the directory party. The send is a
 * party-to-party fetch that nothing awaits: errors are swallowed here and counted by the coalescer.
 *
 * `KAIWA_DIRECTORY_INTERVAL_MS` (default 2000): at most one report per interval per room.
 * `KAIWA_DIRECTORY_TIMEOUT_MS` (default 10000): a report not answered by then counts as failed.
 * Both validated by party/config.ts.
 */
import type * as Party from "partykit/server";
import { DIRECTORY_ID, type RoomReport } from "../protocol/admin-schema.ts";
import { ReportCoalescer } from "../core/report-coalescer.ts";
import { loadConfig } from "../config.ts";

/** `settings`: `loadConfig(room.env).directory` (party/config.ts), which is what it defaults to. */
export function directoryReporter(
  room: Party.Room,
  snapshot: () => RoomReport,
  settings: { intervalMs: number; timeoutMs: number } = loadConfig(room.env).directory,
): ReportCoalescer<RoomReport> {
  return new ReportCoalescer<RoomReport>(
    {
      snapshot,
      now: Date.now,
      schedule: (fn, ms) => void setTimeout(fn, ms),
      send: async (report) => {
        const response = await room.context.parties.directory!.get(DIRECTORY_ID).fetch("/report", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(report),
        });
        if (!response.ok) throw new Error(`directory answered ${response.status}`);
      },
      // A rate above 0 must be followed by the report that brings it back to 0 once traffic stops.
      followUp: (report) => report.messagesPerSecond > 0,
    },
    settings.intervalMs,
    settings.timeoutMs,
  );
}
