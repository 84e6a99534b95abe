// The DuckDB way: one SQL query over a glob of every PT1H.json, written as a competent user would
// after reading the docs on Azure resource logs. Two ways in:
//   typed    read_json(format='newline_delimited', ignore_errors=true, columns=...): the documented
//            way to read JSON lines with a schema;
//   objects  read_ndjson_objects(ignore_errors=true) and JSON functions: the way that survives
//            blobs the typed reader rejects; {"records": [...]} lines are unnested.
// Both decode properties when it is a JSON-encoded string, take the status from
// properties.responseCode for GatewayLogs, and use quantile_disc (exact) for percentiles.
// Usage: node bench/duckdb/query.mjs <dir> <typed|objects>   (prints the summary as JSON)
import { DuckDBInstance } from '@duckdb/node-api';

const [dir, mode = 'objects'] = process.argv.slice(2);
if (!dir || !['typed', 'objects'].includes(mode)) {
  console.error('usage: query.mjs <dir> <typed|objects>');
  process.exit(2);
}
const glob = `${dir.replace(/'/g, "''")}/**/PT1H.json`;
// hive_partitioning = false: the y=/m=/d=/h= and resourceId= folders would otherwise become
// columns (and resourceId= would overwrite the records' own resourceId with '').
const facts =
  mode === 'typed'
    ? `rows AS (
    SELECT category, resultSignature AS signature, durationMs, properties
    FROM read_json('${glob}', format = 'newline_delimited', ignore_errors = true, hive_partitioning = false,
                   columns = {time: 'VARCHAR', category: 'VARCHAR', resultSignature: 'VARCHAR',
                              durationMs: 'DOUBLE', properties: 'JSON'})
  )`
    : `lines AS (
    SELECT json FROM read_ndjson_objects('${glob}', ignore_errors = true, hive_partitioning = false)
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
