// Shows a run (ingest, run) as it goes: a redrawn bar with rate and ETA on a terminal, JSON lines otherwise
// (one object per line on stderr, for log collectors and scripts).
import type { EngineEvent, Progress } from '../engine/loop.js';
import { bytes, count, duration } from './format.js';

export const PROGRESS_MODES = ['bar', 'json', 'none'] as const;
export type ProgressMode = (typeof PROGRESS_MODES)[number];

export function progressMode(requested: string | undefined, stream: NodeJS.WriteStream): ProgressMode {
  if (requested === 'bar' || requested === 'json' || requested === 'none') return requested;
  return stream.isTTY ? 'bar' : 'json';
}

export function progressLine(p: Progress, width = 24): string {
  // Blobs are measured in bytes; work items (rows of a list) have no size: then items tell.
  const sized = p.bytesTotal > 0;
  const finished = p.itemsDone + p.itemsFailed;
  const fraction = sized
    ? Math.min(1, p.bytesDone / p.bytesTotal)
    : p.itemsTotal > 0
      ? Math.min(1, finished / p.itemsTotal)
      : 0;
  const filled = Math.round(fraction * width);
  const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
  const total = p.listingComplete ? count(p.itemsTotal) : `${count(p.itemsTotal)}+ (listing)`;
  const workers = p.workers > 1 ? `${p.workers} workers` : '';
  const eta = p.etaSeconds === null ? (p.listingComplete ? 'ETA …' : '') : `ETA ${duration(p.etaSeconds)}`;
  return [
    `${(fraction * 100).toFixed(1).padStart(5)}% ${bar}`,
    `${count(p.itemsDone)}/${total} items`,
    sized ? `${bytes(p.bytesDone)}/${bytes(p.bytesTotal)}` : '',
    sized ? `${bytes(p.bytesPerSecond)}/s` : `${p.itemsPerSecond.toFixed(1)} items/s`,
    sized ? `${count(p.recordsPerSecond)} rec/s` : '',
    `×${p.concurrency}`,
    workers,
    eta,
    p.retries > 0 ? `retries ${count(p.retries)}` : '',
    p.itemsFailed > 0 ? `failed ${count(p.itemsFailed)}` : '',
  ]
    .filter(Boolean)
    .join(' · ');
}

/** Renders engine events to `stream` in the chosen mode; returns the event handler and a finisher. */
export function progressReporter(mode: ProgressMode, stream: NodeJS.WriteStream, jsonIntervalMs = 5000) {
  let lastJson = 0;
  let lastChange = '';
  let drawn = false;
  const clear = () => {
    if (drawn) stream.write('\r\x1b[2K');
    drawn = false;
  };
  const say = (text: string) => {
    clear();
    stream.write(`${text}\n`);
  };
  const json = (event: string, fields: Record<string, unknown>) =>
    stream.write(`${JSON.stringify({ ts: new Date().toISOString(), event, ...fields })}\n`);

  const onEvent = (e: EngineEvent) => {
    if (mode === 'none') return;
    if (mode === 'json') {
      if (e.type === 'progress') {
        const t = Date.now();
        if (t - lastJson < jsonIntervalMs) return;
        lastJson = t;
        json('progress', { ...e.progress });
      } else if (e.type === 'listed') {
        if (e.complete) json('listed', { items: e.items, added: e.added, changed: e.changed });
      } else if (e.type === 'commit') {
        json('commit', { items: e.items, rejected: e.rejected, records: e.records });
      } else {
        const { type, ...rest } = e;
        json(type, rest);
      }
      return;
    }
    switch (e.type) {
      case 'start':
        say(
          `${e.source} into job "${e.job}"${e.resumed ? ' (resuming)' : ''}${e.reclaimed > 0 ? `; took back ${e.reclaimed} items from a stopped run` : ''}`,
        );
        break;
      case 'progress':
        clear();
        stream.write(
          `${progressLine(e.progress)}${lastChange ? ` · ${lastChange}` : ''}`.slice(
            0,
            Math.max(20, (stream.columns ?? 120) - 1),
          ),
        );
        drawn = true;
        break;
      case 'retry':
        say(`retry ${e.id} in ${duration(e.delayMs / 1000)} (attempt ${e.attempts}): ${e.error}`);
        break;
      case 'failed':
        say(`FAILED ${e.id} after ${e.attempts} attempts: ${e.error}`);
        break;
      case 'concurrency':
        lastChange = e.message;
        break;
      case 'stopping':
        say(`stopping: ${e.reason}`);
        break;
      case 'waiting':
        say(e.message);
        break;
      case 'lost':
        say(
          `lease lost on ${e.ids.length} item${e.ids.length === 1 ? '' : 's'} (another worker took ${e.ids.length === 1 ? 'it' : 'them'} over): their work stopped, nothing of it commits`,
        );
        break;
      case 'store-retry':
        say(
          `the store failed while ${e.what} (${e.error}); trying again in ${duration(e.delayMs / 1000)} (attempt ${e.attempt})`,
        );
        break;
      case 'decision':
        lastChange = e.message;
        say(e.message);
        break;
      default:
        break;
    }
  };
  const finish = () => {
    if (mode === 'bar') clear();
  };
  return { onEvent, finish, say: mode === 'bar' ? say : (text: string) => json('message', { text }) };
}
