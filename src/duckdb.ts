// DuckDB's Node API, as one module value, and the C API bindings beneath it.
//
// @duckdb/node-api is CommonJS spread over ~100 files. The build bundles it (scripts/build.mjs):
// required file by file it cost ~100 ms of CPU to load, bundled ~35 ms. Its default import is the
// whole module.exports, which both Node and the bundler give without analysing its re-exports.
// The bindings (a native addon, external to the bundle) are the same module node-api loads: the
// rows writer fills data chunks through them straight from typed arrays (rows/writer.ts).
import api from '@duckdb/node-api';
import bindings from '@duckdb/node-bindings';

export const duckdb = api;
export const duckdbBindings = bindings;
