// claimListing: one worker of many lists. The hold goes to `owner` when nobody else holds it (or
// the holder's hold expired), and the listing is incomplete (a pass unfinished, or a holder that
// vanished mid-pass) or no other worker is live on the job.
import type pg from 'pg';

export async function claimListing(
  pool: pg.Pool,
  job: string,
  owner: string,
  ttlMs: number,
): Promise<boolean> {
  // The job's row lock orders concurrent claims: the second one re-reads the first one's hold.
  const { rowCount } = await pool.query(
    `UPDATE jobs j SET lister = $2, lister_expires = now() + $3 * interval '1 millisecond'
      WHERE j.name = $1
        AND (j.lister IS NULL OR j.lister = $2 OR j.lister_expires < now())
        AND (j.listed_at IS NULL OR j.list_cursor IS NOT NULL OR j.lister IS NOT NULL OR NOT EXISTS (
              SELECT 1 FROM workers w
               WHERE w.job = $1 AND w.owner <> $2 AND w.left_at IS NULL
                 AND w.last_seen > now() - w.ttl_ms * interval '1 millisecond'))`,
    [job, owner, ttlMs],
  );
  return rowCount === 1;
}
