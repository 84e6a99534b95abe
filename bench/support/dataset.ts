// Synthetic datasets for the benchmarks, generated once per (size, seed, days, shape) under .bench/data
// and reused while their truth.json says they were made with the same options.
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, rmSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { synthesize } from '../../src/synth/generate.js';
import type { Shape } from '../../src/synth/plan.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BENCH_DIR = join(ROOT, '.bench');

export interface DatasetSpec {
  /** Approximate bytes of blobs. */
  size: number;
  seed: number;
  /** Days of hourly blobs: more days means more blobs of the same size. */
  days: number;
  /** `sluice synth --shape`; classic when absent. */
  shape?: Shape;
}

export interface Dataset extends DatasetSpec {
  dir: string;
  /** truth.json: the exact report --format json this dataset must produce. */
  truth: Record<string, unknown>;
  blobs: number;
  bytes: number;
  records: number;
  reused: boolean;
}

export function sizeLabel(bytes: number): string {
  return bytes >= 1e9 && bytes % 1e8 === 0 ? `${bytes / 1e9}GB` : `${Math.round(bytes / 1e6)}MB`;
}

function matches(truth: Record<string, unknown>, spec: DatasetSpec): boolean {
  const about = (truth._about ?? {}) as { options?: Record<string, unknown> };
  const o = about.options ?? {};
  return (
    o.size === spec.size &&
    o.seed === spec.seed &&
    o.days === spec.days &&
    (o.shape ?? 'classic') === (spec.shape ?? 'classic')
  );
}

/** The dataset for `spec`, generated now if no matching one is cached. */
export async function cachedDataset(spec: DatasetSpec, say: (line: string) => void): Promise<Dataset> {
  const shape = spec.shape ?? 'classic';
  const dir = join(
    BENCH_DIR,
    'data',
    `synth-${sizeLabel(spec.size)}-seed${spec.seed}-${spec.days}d${shape === 'classic' ? '' : `-${shape}`}`,
  );
  const truthPath = join(dir, 'truth.json');
  let reused = false;
  if (existsSync(truthPath) && matches(JSON.parse(readFileSync(truthPath, 'utf8')), spec)) {
    reused = true;
  } else {
    // truth.json is written last: without it (or with other options) the folder is a leftover.
    rmSync(dir, { recursive: true, force: true });
    say(
      `generating ${sizeLabel(spec.size)} ${shape} dataset (seed ${spec.seed}, ${spec.days} days) in ${relative(ROOT, dir)} ...`,
    );
    const started = performance.now();
    await synthesize({ dir, size: spec.size, seed: spec.seed, days: spec.days, shape });
    say(`  done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  const truth = JSON.parse(readFileSync(truthPath, 'utf8')) as Record<string, unknown>;
  const items = truth.items as { total: number };
  const about = truth._about as { bytes: number };
  return {
    ...spec,
    dir,
    truth,
    blobs: items.total,
    bytes: about.bytes,
    records: truth.records as number,
    reused,
  };
}

/** Every PT1H.json under `dir`, as paths relative to it with forward slashes (blob names). */
export function blobFiles(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => f.endsWith('PT1H.json'))
    .map((f) => f.split(sep).join('/'))
    .sort();
}

/**
 * Reads every blob once, untimed, so that every contender then reads from the page cache and
 * the first one timed is not the only one paying for the disk.
 */
export function warmPageCache(dir: string): { files: number; bytes: number; ms: number } {
  const started = performance.now();
  let bytes = 0;
  const files = blobFiles(dir);
  for (const f of files) bytes += readFileSync(join(dir, f)).length;
  return { files: files.length, bytes, ms: performance.now() - started };
}

/**
 * An error that names a file, made readable: the path cut to its last folders, and what the
 * file starts with (so "Malformed JSON in file ..." says which kind of blob stopped the reader).
 */
export function explainFileError(message: string): string {
  const m = /file "([^"]+)"/.exec(message);
  if (!m) return message;
  const path = m[1] as string;
  const short = `…/${path.split('/').slice(-6).join('/')}`;
  let head = '';
  try {
    const fd = openSync(path, 'r');
    const buf = Buffer.alloc(48);
    const n = readSync(fd, buf, 0, buf.length, 0);
    closeSync(fd);
    head = JSON.stringify(buf.subarray(0, n).toString('utf8'));
  } catch {
    // the message is still useful without it
  }
  return `${message.replace(m[0], `file "${short}"`)}${head ? ` [the file starts ${head}]` : ''}`;
}
