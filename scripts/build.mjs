// `npm run build`: type-checks with tsc, then bundles the CLI with esbuild into dist/cli/.
//
// Why a bundle: Node's ES module loader pays for every file it resolves and reads, and the CLI's
// dependencies (the Azure SDK alone is ~300 files) made each start cost ~0.5 s of CPU before any
// work, three times over when three workers start on one machine. Bundled, a start costs ~0.1 s.
//
// Layout: every output file sits in dist/cli/ (the entry main.js, the two worker-thread entries and
// the shared chunks), so `import.meta.url` names the same folder in all of them; code that points
// at a worker file checks `BUNDLED` (src/bundle.ts) to pick the bundled name.
import { execFileSync } from 'node:child_process';
import { chmodSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';

/**
 * Loaded from node_modules at run time instead of bundled: native addons and packages that find
 * files of their own by path (piscina's worker, echarts and azurite through createRequire), or that
 * are large and loaded on demand only (@azure/identity, resvg). DuckDB's native bindings stay out;
 * its JavaScript API (~100 small CommonJS files) is bundled into the chunk that loads it.
 */
const EXTERNAL = [
  '@azure/identity',
  '@duckdb/node-bindings',
  '@duckdb/node-bindings-*',
  '@resvg/*',
  'azurite',
  'better-sqlite3',
  'echarts',
  // Optional packages their users require only when asked for (never here).
  'pg-native',
  'piscina',
  'protobufjs',
  'protobufjs/*',
  'playwright-core',
];

execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--noEmit'], {
  stdio: 'inherit',
});
rmSync('dist', { recursive: true, force: true });
await build({
  entryPoints: {
    main: 'src/cli/main.ts',
    'azure-logs-worker': 'src/tasks/azure-logs/worker.ts',
    'analyze-worker': 'src/analyze/worker.ts',
    'rows-worker': 'src/rows/worker.ts',
  },
  outdir: 'dist/cli',
  bundle: true,
  splitting: true,
  chunkNames: 'chunk-[hash]',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: EXTERNAL,
  define: { SLUICE_BUNDLE: 'true' },
  // Bundled CommonJS packages call require() for Node's own modules: give them one.
  banner: {
    js: "import { createRequire as __sluiceRequire } from 'node:module'; const require = __sluiceRequire(import.meta.url);",
  },
  sourcemap: 'linked',
  logLevel: 'warning',
});
chmodSync('dist/cli/main.js', 0o755);

// Two programs in C, built here with the machine's C compiler; without one, sluice works on, slower.
const cc = process.env.CC || 'cc';
const compile = (what, args, without) => {
  try {
    execFileSync(cc, ['-O2', '-std=c11', '-Wall', '-Wextra', ...args], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  } catch (error) {
    process.stderr.write(
      `sluice build: ${what} was not built (${cc}: ${String(error.message).split('\n')[0]}); ${without}\n`,
    );
  }
};
// The spawner (src/tasks/exec/spawner.c) starts `sluice run`'s children.
compile(
  'the spawner',
  ['-o', 'dist/spawner', 'src/tasks/exec/spawner.c'],
  '`sluice run` will start its children through shells, which costs more per child',
);
// The log scanner (src/tasks/azure-logs/scan.c), a Node-API add-on against the headers of the Node
// that runs this build; macOS resolves Node's symbols when the add-on loads.
const headers = process.env.npm_config_nodedir
  ? join(process.env.npm_config_nodedir, 'include', 'node')
  : join(dirname(process.execPath), '..', 'include', 'node');
compile(
  'the log scanner',
  [
    '-fPIC',
    '-shared',
    ...(process.platform === 'darwin' ? ['-undefined', 'dynamic_lookup'] : []),
    '-I',
    headers,
    '-o',
    'dist/scan.node',
    'src/tasks/azure-logs/scan.c',
    '-lm',
  ],
  '`sluice ingest` will parse Azure logs with JSON.parse alone, which takes about 2.5 times the CPU',
);
