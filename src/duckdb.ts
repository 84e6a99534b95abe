// DuckDB's Node API, as one module value.
//
// @duckdb/node-api is CommonJS spread over ~100 files. The build bundles it (scripts/build.mjs):
// required file by file it cost ~100 ms of CPU to load, bundled ~35 ms. Its default import is the
// whole module.exports, which both Node and the bundler give without analysing its re-exports.
import api from '@duckdb/node-api';

export const duckdb = api;
