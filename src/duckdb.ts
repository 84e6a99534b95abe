// DuckDB's Node API, required rather than imported.
//
// @duckdb/node-api is CommonJS whose index re-exports some forty files. Imported from an ES module,
// Node first pre-parses every one of them to learn their export names: ~125 ms of CPU on the main
// thread before the first query (measured on `ingest --keep-rows`). Required, it simply loads.
import { createRequire } from 'node:module';
import type * as DuckDB from '@duckdb/node-api';

const require = createRequire(import.meta.url);

export const duckdb = require('@duckdb/node-api') as typeof DuckDB;
