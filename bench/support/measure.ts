// Runs one contender as a child process and measures what the tables show: wall time (from
// spawn to exit, measured here) and peak resident memory (from /usr/bin/time when the machine
// has it, else from the child's own process.resourceUsage() for Node children).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Measured {
  wallMs: number;
  /** Peak RSS in bytes, null when it could not be measured. */
  peakRss: number | null;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const GNU_TIME = '/usr/bin/time';
const RSS_PRELOAD = fileURLToPath(new URL('./report-rss.mjs', import.meta.url));

/** How peak RSS is measured on this machine, for the notes under each table. */
export function rssMethod(): string {
  return existsSync(GNU_TIME)
    ? `${GNU_TIME} -f %M (the process and its threads)`
    : 'process.resourceUsage().maxRSS inside Node children (Python: not measured)';
}

/** Runs `command args` to completion; never throws for a non-zero exit (the caller decides). */
export function measure(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Measured> {
  const scratch = mkdtempSync(join(tmpdir(), 'sluice-bench-rss-'));
  const rssFile = join(scratch, 'rss');
  let argv: string[];
  let file: string;
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (existsSync(GNU_TIME)) {
    file = GNU_TIME;
    argv = ['-f', '%M', '-o', rssFile, command, ...args];
  } else {
    file = command;
    argv = args;
    if (command === process.execPath) {
      argv = ['--import', RSS_PRELOAD, ...args];
      childEnv.SLUICE_BENCH_RSS_FILE = rssFile;
    }
  }
  const started = performance.now();
  const child = spawn(file, argv, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => err.push(d));
  return new Promise((resolve, reject) => {
    child.once('error', (error) => {
      rmSync(scratch, { recursive: true, force: true });
      reject(error);
    });
    child.once('close', (code, signal) => {
      const wallMs = performance.now() - started;
      let peakRss: number | null = null;
      try {
        // GNU time writes "Command exited with non-zero status N" before %M when the command fails.
        const last = readFileSync(rssFile, 'utf8').trim().split('\n').pop() ?? '';
        const n = Number(last);
        // %M and resourceUsage().maxRSS are both in KiB.
        if (last !== '' && Number.isFinite(n)) peakRss = n * 1024;
      } catch {
        // not measured
      }
      rmSync(scratch, { recursive: true, force: true });
      resolve({
        wallMs,
        peakRss,
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}

/**
 * The line of a child's output that says what went wrong: the last one naming an error (a Node
 * crash ends with its stack and "Node.js v20..."), else the last non-empty line.
 */
export function lastLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const named = lines.filter((l) => /error/i.test(l) && !l.startsWith('at '));
  return (named[named.length - 1] ?? lines[lines.length - 1] ?? '').slice(0, 300);
}
