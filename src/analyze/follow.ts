// `sluice analyze --follow`: reads what the files hold, then tails them (rotation and truncation
// handled by @logdna/tail-file), keeps a live summary on a terminal, and raises alerts: a line on
// standard output and, if asked, a command run without a shell. Ctrl-C ends it with the analysis
// of everything read, for the caller to report.
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import TailFile from '@logdna/tail-file';
import { UsageError } from '../errors.js';
import { type Alert, AlertEngine, parseAlertRule, splitCommand } from './alerts.js';
import { type Analysis, combine } from './combine.js';
import { type AnalyzeOptions, FileAnalyzer } from './file-analyzer.js';
import { type InputFile, type LineSink, readLines } from './input.js';
import { LEVELS } from './levels.js';
import { escapeControl } from './text.js';

export interface FollowOptions {
  format: 'text' | 'json' | 'csv' | 'html';
  alert: string[];
  onAlert?: string;
  /** Least time between two alerts of one rule. */
  alertEvery?: number;
  /** How often files are polled for new lines. */
  pollMs?: number;
}

/** Numbers lines itself, so they restart at 1 when the file is rotated or truncated. */
class FollowSink implements LineSink {
  lineNo = 0;
  constructor(readonly analyzer: FileAnalyzer) {}
  line(text: string): void {
    this.lineNo += 1;
    this.analyzer.line(text, this.lineNo);
  }
  skipLongLine(): void {
    this.lineNo += 1;
    this.analyzer.skipLongLine();
  }
  invalidUtf8(): void {
    this.analyzer.invalidUtf8();
  }
  skipFile(reason: string): void {
    this.analyzer.skipFile(reason);
  }
  chunkEnd(): void {
    this.analyzer.settle();
  }
}

export async function followFiles(
  files: InputFile[],
  options: AnalyzeOptions & { maxLineBytes: number },
  cli: FollowOptions,
): Promise<Analysis> {
  const rules = cli.alert.map(parseAlertRule);
  const engine = new AlertEngine(rules, cli.alertEvery ?? 60_000);
  const command = cli.onAlert ? splitCommand(cli.onAlert) : null;
  if (command && command.length === 0) throw new UsageError('--on-alert: the command is empty');
  let live = false; // no alerts while the files' existing lines are read
  const raise = (alert: Alert) => {
    const line =
      cli.format === 'json'
        ? JSON.stringify({ alert: alert.rule, at: new Date(alert.at).toISOString(), text: alert.text })
        : `ALERT ${new Date(alert.at).toISOString()} [${alert.rule}] ${escapeControl(alert.text)}`;
    process.stdout.write(`${line}\n`);
    if (command) {
      const [program, ...args] = command as [string, ...string[]];
      const child = spawn(program, args, {
        stdio: 'ignore',
        env: { ...process.env, SLUICE_ALERT: alert.text, SLUICE_ALERT_RULE: alert.rule },
      });
      child.on('error', (error) => process.stderr.write(`sluice: --on-alert ${program}: ${error.message}\n`));
    }
  };
  const analyzers: FileAnalyzer[] = [];
  const sinks: FollowSink[] = [];
  for (const file of files) {
    const analyzer: FileAnalyzer = new FileAnalyzer(file.path, options, (row) => {
      if (!live) return;
      for (const alert of engine.event({ file: file.path, ...row })) raise(alert);
    });
    analyzers.push(analyzer);
    sinks.push(new FollowSink(analyzer));
  }

  // What the files hold now, then their growth from exactly there.
  const tails: TailFile[] = [];
  const reading: Promise<void>[] = [];
  for (const [i, file] of files.entries()) {
    const sink = sinks[i] as FollowSink;
    if (file.path === '-') {
      reading.push(readLines(process.stdin, sink, options.maxLineBytes));
      continue;
    }
    const size = (await stat(file.path)).size;
    if (size > 0) await readLines(createReadStream(file.path, { end: size - 1 }), sink, options.maxLineBytes);
    sink.analyzer.settle();
    const tail = new TailFile(file.path, { startPos: size, pollFileIntervalMs: cli.pollMs ?? 250 });
    const restart = () => {
      sink.analyzer.settle();
      sink.lineNo = 0;
    };
    tail.on('renamed', restart);
    tail.on('truncated', restart);
    tail.on('tail_error', (error: Error) =>
      process.stderr.write(`sluice: following ${file.path}: ${error.message}\n`),
    );
    await tail.start();
    tails.push(tail);
    reading.push(readLines(tail, sink, options.maxLineBytes));
  }
  live = true;
  process.stderr.write(
    `following ${files.length} file${files.length === 1 ? '' : 's'} (Ctrl-C for the report)\n`,
  );

  const summary = () => {
    const { analysis } = combine(
      analyzers.map((a) => a.snapshot()),
      { slowMs: options.slowMs, drain: options.drain },
    );
    return analysis;
  };
  const ticker = process.stderr.isTTY
    ? setInterval(() => {
        const a = summary();
        const levels = LEVELS.filter((l) => a.levels[l] > 0)
          .map((l) => `${l} ${a.levels[l]}`)
          .join(' ');
        process.stderr.write(`\r\x1b[K${a.events} events  ${levels}  health ${a.health.score}`);
      }, 1000)
    : null;

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  if (ticker) clearInterval(ticker);
  await Promise.all(tails.map((t) => t.quit().catch(() => undefined)));
  for (const a of analyzers) a.settle();
  return summary();
}
