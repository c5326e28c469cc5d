/**
 * Wires a room's ReportCoalescer (party/core/report-coalescer.ts) to the directory party. The send is a
 * party-to-party fetch that nothing awaits: errors are swallowed here and counted by the coalescer.
 *
 * `KAIWA_DIRECTORY_INTERVAL_MS` (default 2000): at most one report per interval per room.
 * `KAIWA_DIRECTORY_TIMEOUT_MS` (default 10000): a report not answered by then counts as failed.
 */
import type * as Party from "partykit/server";
import { DIRECTORY_ID, type RoomReport } from "../protocol/admin-schema.ts";
import { ReportCoalescer } from "../core/report-coalescer.ts";

export function directoryReporter(room: Party.Room, snapshot: () => RoomReport): ReportCoalescer<RoomReport> {
  const env = (key: string, fallback: number) => {
    const value = Number(room.env[key]);
    return Number.isFinite(value) && value > 0 ? value : fallback;
  };
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
    env("KAIWA_DIRECTORY_INTERVAL_MS", 2000),
    env("KAIWA_DIRECTORY_TIMEOUT_MS", 10_000),
  );
}
