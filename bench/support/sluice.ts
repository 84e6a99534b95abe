// Runs the built sluice CLI the way a user does: `ingest` into a fresh store, then `report --format json`.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { compareReports } from '../../src/report/compare.js';
import type { Summary } from './check.js';
import { ROOT } from './dataset.js';
import { lastLine, type Measured, measure } from './measure.js';

export const CLI = join(ROOT, 'dist', 'cli', 'main.js');

export function requireBuild(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
}

export interface SluiceRun {
  ingest: Measured;
  report: Measured | null;
  /** The report, or the error that stopped the run. */
  summary: Summary;
  /** Differences from truth.json on every contract key (compareReports), when there is a report. */
  contractDiffs: string[] | null;
  /** True when this build refuses the source as not available (e.g. Azure not wired in yet). */
  notAvailable: boolean;
}

export async function runSluice(
  source: string,
  store: string,
  truth: Record<string, unknown>,
  extra: string[] = [],
  env: NodeJS.ProcessEnv = {},
  nodeArgs: string[] = [],
): Promise<SluiceRun> {
  removeStore(store);
  const args = [...nodeArgs, CLI, 'ingest', source, '--store', store, '--progress', 'none', ...extra];
  const ingest = await measure(process.execPath, args, env);
  const notAvailable = ingest.code === 2 && /not available/i.test(ingest.stderr);
  if (ingest.code !== 0 && ingest.code !== 1) {
    removeStore(store);
    const why = lastLine(ingest.stderr) || `exit ${ingest.code ?? ingest.signal}`;
    return { ingest, report: null, summary: { error: why }, contractDiffs: null, notAvailable };
  }
  const report = await measure(process.execPath, [CLI, 'report', '--store', store, '--format', 'json']);
  removeStore(store);
  if (report.code !== 0) {
    return {
      ingest,
      report,
      summary: { error: `report: ${lastLine(report.stderr)}` },
      contractDiffs: null,
      notAvailable,
    };
  }
  const json = JSON.parse(report.stdout) as Record<string, unknown>;
  return {
    ingest,
    report,
    summary: json as Summary,
    contractDiffs: compareReports(json, truth),
    notAvailable,
  };
}

export function removeStore(store: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${store}${suffix}`, { force: true });
}
