#!/usr/bin/env node
// The sluice command line: wires the commands and maps errors to the exit codes in DESIGN.md.
import { Command, CommanderError } from 'commander';
import { EXIT, UsageError } from '../errors.js';
import { redact } from '../sources/azure/redact.js';
import { StoreError } from '../store/types.js';
import { VERSION } from './version.js';

/** Each command's module, in the order `--help` lists them. */
const COMMANDS = new Map<string, () => Promise<(program: Command) => void>>([
  ['ingest', async () => (await import('./commands/ingest.js')).registerIngest],
  ['run', async () => (await import('./commands/run.js')).registerRun],
  ['status', async () => (await import('./commands/status.js')).registerStatus],
  ['report', async () => (await import('./commands/report.js')).registerReport],
  ['partitions', async () => (await import('./commands/partitions.js')).registerPartitions],
  ['merge', async () => (await import('./commands/merge.js')).registerMerge],
  ['health', async () => (await import('./commands/health.js')).registerHealth],
  ['serve', async () => (await import('./commands/serve.js')).registerServe],
  ['query', async () => (await import('./commands/query.js')).registerQuery],
  ['export', async () => (await import('./commands/export.js')).registerExport],
  ['synth', async () => (await import('./commands/synth.js')).registerSynth],
  ['demo', async () => (await import('./commands/demo.js')).registerDemo],
  ['analyze', async () => (await import('./commands/analyze.js')).registerAnalyze],
]);

const program = new Command('sluice')
  .description(
    'Process huge numbers of cloud log blobs fast, exactly and resumably, and turn them into answers.',
  )
  .version(VERSION)
  .showHelpAfterError('(add --help for usage)')
  .exitOverride()
  .configureOutput({
    outputError: (text, write) => write(redact(text.startsWith('error:') ? `sluice: ${text}` : text)),
  })
  .addHelpText(
    'after',
    `
Start here:
  sluice demo                                   the whole job on generated data
  sluice ingest ./logs && sluice report         your own logs (a folder of PT1H.json blobs)
  sluice <command> --help                       options and examples for each command`,
  );

// A reader that stops early (`sluice report | head`) is not an error: stop quietly, as Unix tools do.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(EXIT.ok);
    throw error;
  });
}

// Only the command being run is loaded (each pulls in its own dependencies: SQLite, the worker
// pool, the report...), so a command starts without paying for the others. `--version` needs
// none; anything else (`--help`, a typo) gets them all, for the full help and the suggestions.
const first = process.argv[2] ?? '';
const one = COMMANDS.get(first);
const loaders = one ? [one] : first === '--version' || first === '-V' ? [] : [...COMMANDS.values()];
for (const register of await Promise.all(loaders.map((load) => load()))) register(program);
for (const command of program.commands) command.exitOverride();

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // --help and --version end through here with exit code 0.
    process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else if (error instanceof UsageError) {
    process.stderr.write(`sluice: ${redact(error.message)}\n`);
    process.exitCode = EXIT.usage;
  } else if (error instanceof StoreError) {
    process.stderr.write(`sluice: ${error.message}\n`);
    process.exitCode = EXIT.storeFailed;
  } else {
    const verbose = process.argv.includes('--verbose');
    // Last line of defence: whatever the error says, no password, key or SAS is printed.
    process.stderr.write(
      redact(
        `sluice: internal error: ${error instanceof Error ? error.message : String(error)}\n` +
          (verbose && error instanceof Error
            ? `${error.stack}\n`
            : 'run again with --verbose for the stack trace\n'),
      ),
    );
    process.exitCode = EXIT.failedItems;
  }
}
