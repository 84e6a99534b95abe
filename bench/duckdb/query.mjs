// The DuckDB way: one SQL query over a glob of every PT1H.json, written as a competent user would
// after reading the docs on Azure resource logs. Three ways in:
//   typed    read_ndjson(ignore_errors=true, columns=...): the documented way to read JSON lines
//            with a schema, and DuckDB's fastest JSON reader. It stops at the first pretty-printed
//            {"records": [...]} blob, ignore_errors or not.
//   auto     read_json(ignore_errors=true, columns=...) with the format auto-detected per file, as
//            that error message suggests, and a `records` column whose elements are unnested: it
//            reads pretty-printed wrappers too, but a file it does not detect as JSON lines (a
//            BOM, a line of binary junk) stops it, as errors are then not ignored.
//   lines    typed, on the files that do not start as a {"records": [...]} wrapper (found by
//            reading each file's first bytes, timed too): what typed costs when it does not stop,
//            legacy blobs' records lost.
//   objects  read_ndjson_objects(ignore_errors=true) and JSON functions: the way that survives
//            every blob; {"records": [...]} lines are unnested, pretty-printed ones lost.
// Every way decodes properties when it is a JSON-encoded string, takes the status from
// properties.responseCode for GatewayLogs, and uses quantile_disc (exact) for percentiles.
// Usage: node bench/duckdb/query.mjs <dir> <typed|auto|lines|objects>   (prints the summary as JSON)
import { closeSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

const [dir, mode = 'objects'] = process.argv.slice(2);
if (!dir || !['typed', 'auto', 'lines', 'objects'].includes(mode)) {
  console.error('usage: query.mjs <dir> <typed|auto|lines|objects>');
  process.exit(2);
}
const quote = (path) => `'${path.replace(/'/g, "''")}'`;
const glob = quote(`${dir}/**/PT1H.json`);

/** Every PT1H.json under `dir` but the {"records": [...]} wrappers, as a DuckDB list of paths. */
function jsonLinesFiles() {
  const head = Buffer.alloc(64);
  const keep = [];
  for (const name of readdirSync(dir, { recursive: true })) {
    if (!name.endsWith('PT1H.json')) continue;
    const path = join(dir, name);
    const fd = openSync(path, 'r');
    const n = readSync(fd, head, 0, head.length, 0);
    closeSync(fd);
    if (!/^(\uFEFF)?\{\s*"records"/.test(head.subarray(0, n).toString('utf8'))) keep.push(quote(path));
  }
  return `[${keep.join(', ')}]`;
}
// hive_partitioning = false: the y=/m=/d=/h= and resourceId= folders would otherwise become
// columns (and resourceId= would overwrite the records' own resourceId with '').
const SOURCE = mode === 'lines' ? jsonLinesFiles() : glob;
const columns = `time: 'VARCHAR', category: 'VARCHAR', resultSignature: 'VARCHAR', durationMs: 'BIGINT', properties: 'JSON'`;
const typedReader = `read_ndjson(${SOURCE}, ignore_errors = true, hive_partitioning = false, columns = {${columns}})`;
const READERS = {
  typed: typedReader,
  lines: typedReader,
  auto: `read_json(${SOURCE}, ignore_errors = true, hive_partitioning = false, columns = {${columns}, records: 'JSON'})`,
};
// A line that is not an object (42, null, [1,2]) or a wrapper's own row reads as a row with no
// time: every Azure record has one. A wrapper's records are typed from its JSON.
const facts =
  mode !== 'objects'
    ? `typed AS (SELECT * FROM ${READERS[mode]}),
  rows AS (
    SELECT category, resultSignature AS signature, durationMs, properties FROM typed WHERE time IS NOT NULL
    ${
      mode === 'auto'
        ? `UNION ALL
    SELECT r->>'category', r->>'resultSignature', TRY_CAST(r->>'durationMs' AS BIGINT), r->'properties'
    FROM (SELECT unnest(json_extract(records, '$[*]')) AS r FROM typed WHERE json_type(records) = 'ARRAY')
    WHERE json_type(r) = 'OBJECT'`
        : ''
    }
  )`
    : `lines AS (
    SELECT json FROM read_ndjson_objects(${SOURCE}, ignore_errors = true, hive_partitioning = false)
  ),
  objects AS (
    SELECT json AS r FROM lines WHERE json_type(json->'records') IS DISTINCT FROM 'ARRAY'
    UNION ALL
    SELECT unnest(json_extract(json, '$.records[*]')) AS r FROM lines WHERE json_type(json->'records') = 'ARRAY'
  ),
  rows AS (
    SELECT r->>'category' AS category, r->>'resultSignature' AS signature,
           TRY_CAST(r->>'durationMs' AS DOUBLE) AS durationMs, r->'properties' AS properties
    FROM objects WHERE json_type(r) = 'OBJECT'
  )`;

const sql = `
WITH ${facts},
  decoded AS (
    SELECT category, signature, durationMs,
           CASE WHEN json_type(properties) = 'VARCHAR' THEN
                CASE WHEN json_valid(properties->>'$') THEN json(properties->>'$') END
                ELSE properties END AS p
    FROM rows
  ),
  coded AS (
    SELECT NULLIF(p->>'modelName', '') AS model, NULLIF(p->>'modelVersion', '') AS version, durationMs,
           TRY_CAST(CASE WHEN category = 'GatewayLogs' THEN p->>'responseCode' ELSE signature END AS INTEGER) AS code
    FROM decoded
  ),
  classed AS (
    SELECT model, version, durationMs,
           CASE WHEN code BETWEEN 200 AND 299 THEN 'success'
                WHEN code = 429 THEN 'rateLimited'
                WHEN code BETWEEN 400 AND 499 THEN 'clientError'
                WHEN code BETWEEN 500 AND 599 THEN 'serverError'
                ELSE 'noStatus' END AS cls
    FROM coded
  )
SELECT GROUPING(model, version) AS grand, model, version,
       count(*) AS records,
       count(*) FILTER (cls = 'success') AS success,
       count(*) FILTER (cls = 'rateLimited') AS rateLimited,
       count(*) FILTER (cls = 'clientError') AS clientError,
       count(*) FILTER (cls = 'serverError') AS serverError,
       count(*) FILTER (cls = 'noStatus') AS noStatus,
       count(durationMs) FILTER (cls <> 'noStatus' AND durationMs >= 0) AS latencyCount,
       quantile_disc(durationMs, [0.5, 0.95, 0.99]) FILTER (cls <> 'noStatus' AND durationMs >= 0) AS q
FROM classed
GROUP BY GROUPING SETS ((model, version), ())
`;

const instance = await DuckDBInstance.create(':memory:');
const connection = await instance.connect();
let rows;
try {
  rows = (await connection.runAndReadAll(sql)).getRowObjectsJson();
} catch (error) {
  // The answer a user gets: no numbers, this message.
  const message = String(error instanceof Error ? error.message : error).split('\n')[0];
  process.stdout.write(`${JSON.stringify({ error: message })}\n`);
  process.exit(0);
}
const num = (v) => (v === null || v === undefined ? null : Number(v));
const latency = (q) => ({ p50: num(q?.[0]), p95: num(q?.[1]), p99: num(q?.[2]) });
const classes = (r) => ({
  success: num(r.success),
  rateLimited: num(r.rateLimited),
  clientError: num(r.clientError),
  serverError: num(r.serverError),
  noStatus: num(r.noStatus),
});
const total = rows.find((r) => Number(r.grand) !== 0);
const summary = {
  records: num(total.records),
  malformedLines: null,
  statusClasses: classes(total),
  latencyMs: { count: num(total.latencyCount), ...latency(total.q) },
  byModel: rows
    .filter((r) => Number(r.grand) === 0)
    .map((r) => ({
      model: r.model,
      version: r.version,
      records: num(r.records),
      ...classes(r),
      latencyMs: latency(r.q),
    })),
};
process.stdout.write(`${JSON.stringify(summary)}\n`);
