/**
 * Measures the archive's bytes per message, the capacity model's `archiveBytesPerMessage`
 * (scripts/capacity/inputs.ts): 20,000 short Japanese and English messages in 40 upserts of 500, through
 * the rooms' own statement (party/archive/sql.ts UPSERT_EVENTS), into an in-memory PGlite with
 * db/migrations applied; then the table's size with its indexes (the GIN index of bigrams included) per row.
 * `node --import tsx scripts/capacity/measure-archive-bytes.ts` (about 30 s).
 */
import { PGlite } from "@electric-sql/pglite";
import { listMigrations } from "../../db/migrate.ts";
import { UPSERT_EVENTS } from "../../party/archive/sql.ts";

const TEXTS = [
  "既読がつかないのはなぜ？",
  "see you at the standup tomorrow, I'll bring the notes",
  "了解です！明日の会議で話しましょう",
  "lol ok",
  "Can you send me the link to the design doc again? I lost it",
  "お疲れさまでした。今日のリリースは無事に終わりました",
];
const N = 20_000;
const BATCH = 500;

const db = new PGlite();
for (const migration of listMigrations()) await db.exec(migration.sql);
for (let b = 0; b < N / BATCH; b++) {
  const events = Array.from({ length: BATCH }, (_, k) => {
    const seq = b * BATCH + k + 1;
    return { kind: "message", seq, ts: 1_764_800_000_000 + seq, author: { id: `user-${seq % 50}`, name: `User ${seq % 50}` }, clientId: `c-${seq}-abcdefgh`, text: `${TEXTS[seq % TEXTS.length]} ${seq}` };
  });
  await db.query(UPSERT_EVENTS, [`dm:alice:bob-${b % 20}`, JSON.stringify(events)]);
}
await db.exec("VACUUM ANALYZE archive_events");
const { rows } = await db.query<{ total: string; heap: string; n: string }>(
  "SELECT pg_total_relation_size('archive_events') AS total, pg_relation_size('archive_events') AS heap, count(*) AS n FROM archive_events",
);
const row = rows[0]!;
const n = Number(row.n);
console.log(`archive: ${n} messages, ${Math.round(Number(row.total) / n)} bytes per message with indexes (${Math.round(Number(row.heap) / n)} in the table itself)`);
await db.close();
