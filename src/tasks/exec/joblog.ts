// `--joblog <file>`: one line per attempt in GNU parallel's joblog format, so tools that read
// parallel's joblog read ours: tab-separated Seq Host Starttime JobRuntime Send Receive Exitval Signal Command.
import { closeSync, fstatSync, openSync, readFileSync, writeSync } from 'node:fs';
import os from 'node:os';

export const JOBLOG_HEADER = 'Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n';

export interface JobLogEntry {
  /** ms since the epoch. */
  startedAt: number;
  durationMs: number;
  /** Bytes the command wrote to stdout. */
  received: number;
  exitCode: number;
  /** Signal number that ended it, 0 if none. */
  signal: number;
  command: string;
}

export class JobLog {
  #fd: number;
  #seq: number;

  /** Appends to `file`, writing the header when it is new or empty; Seq continues from its lines. */
  constructor(readonly file: string) {
    this.#fd = openSync(file, 'a');
    const size = fstatSync(this.#fd).size;
    if (size === 0) {
      writeSync(this.#fd, JOBLOG_HEADER);
      this.#seq = 0;
    } else {
      const text = readFileSync(file, 'utf8');
      this.#seq = Math.max(0, text.split('\n').filter((l) => l !== '').length - 1);
    }
  }

  /** One line per call, written with O_APPEND in one write: lines of concurrent children never mix. */
  append(entry: JobLogEntry): void {
    this.#seq += 1;
    const line = [
      this.#seq,
      ':', // parallel's name for the local host
      (entry.startedAt / 1000).toFixed(3),
      (entry.durationMs / 1000).toFixed(3).padStart(8),
      0,
      entry.received,
      entry.exitCode,
      entry.signal,
      entry.command.replace(/[\t\n]/g, ' '),
    ].join('\t');
    writeSync(this.#fd, `${line}\n`);
  }

  close(): void {
    closeSync(this.#fd);
  }
}

/** A signal's number, as the joblog and metrics keep it (0 for none or an unknown name). */
export function signalNumber(signal: NodeJS.Signals | null): number {
  return signal ? (os.constants.signals[signal] ?? 0) : 0;
}
