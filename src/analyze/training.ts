// Training runs: per-epoch metrics from Keras 2/3, PyTorch Lightning (progress bar and CSVLogger's
// metrics.csv), Hugging Face Trainer (dict lines and its table) and plain `Epoch N/M - loss: ...`
// lines; then the best epoch, overfitting and NaN/inf losses. Pure: fed one physical line at a time.
import { stripAnsi } from './text.js';

export type Framework = 'keras' | 'lightning' | 'huggingface' | 'plain';
export type Metrics = Record<string, number>;

export interface Epoch {
  epoch: number;
  [metric: string]: number;
}

export interface Overfitting {
  detected: boolean;
  fromEpoch: number | null;
  /** val_loss - loss at the last epoch (null without both). */
  gap: number | null;
  /** val_loss - loss at fromEpoch. */
  gapAtStart: number | null;
  rule: string;
}

export interface TrainingRun {
  file: string;
  framework: Framework;
  epochs: Epoch[];
  bestEpoch: number | null;
  overfitting: Overfitting;
  /** Epochs where a loss was NaN or infinite. */
  nonFinite: { epoch: number; metric: string; value: string }[];
}

export const OVERFITTING_RULE =
  'val_loss rises for at least 2 consecutive epochs while loss falls over the same epochs; fromEpoch is the first epoch whose val_loss rose';

const NUMBER = String.raw`[-+]?(?:nan|inf(?:inity)?|\d+(?:\.\d*)?(?:e[-+]?\d+)?|\.\d+(?:e[-+]?\d+)?)`;
const KERAS_PAIR = new RegExp(String.raw`(?:^|\s-\s)([A-Za-z_][\w/]*): (${NUMBER})(?=\s|$)`, 'gi');
const KERAS_PROGRESS = /^\s*(\d+)\/(\d+)\s/;
// The epoch's wall time before the per-step time: `- 13s 29ms/step` (Keras 2), `27s 476ms/step` (Keras 3).
const KERAS_TIME = /\s(\d+(?:\.\d+)?)(ms|s|m)\s+\d+(?:\.\d+)?(?:ms|s|us)\/step/;
const EPOCH_HEADER = /^\s*Epoch (\d+)\/(\d+)\s*$/;
const PLAIN_EPOCH = /^\s*Epoch (\d+)\/(\d+)\s*[-:|,]\s*(.*)$/;
const LIGHTNING = /^\s*Epoch (\d+):\s+\d+%\|.*?\|\s*(\d+)\/(\d+)\s*\[[^\]]*?(?:,\s*(.*))?\]\s*$/;
const PAIR_EQ = new RegExp(String.raw`([A-Za-z_][\w/]*)=(${NUMBER})`, 'gi');
const HF_DICT = /^\s*\{'[\w/]+': .*\}\s*$/;
const HF_PAIR = /'([\w/]+)':\s*'?([^,'}]+?)'?\s*(?=,|\})/g;

/**
 * What every line of training output has (or follows a line that had it): a line without it
 * leaves the parser as it was, so a file none of whose lines has it has no training run.
 */
export const TRAINING_HINT = /[Ee]poch|loss|'eval_|Loss/;

export function toNumber(text: string): number {
  const t = text.trim().toLowerCase();
  if (t === 'nan' || t === '+nan' || t === '-nan') return Number.NaN;
  if (/^\+?inf(inity)?$/.test(t)) return Number.POSITIVE_INFINITY;
  if (/^-inf(inity)?$/.test(t)) return Number.NEGATIVE_INFINITY;
  return Number(t);
}

/** Keras names for the metrics other frameworks call differently (DESIGN.md). */
export function metricName(name: string, framework: Framework): string | null {
  let n = name;
  if (n === 'v_num' || n === 'epoch' || n === 'step' || n.endsWith('_step')) return null;
  if (framework === 'huggingface' || n.startsWith('eval_')) n = n.replace(/^eval_/, 'val_');
  n = n.replace(/_epoch$/, '');
  if (n === 'train_loss') return 'loss';
  n = n.replace(/^train_/, '');
  n = n.replace(/(^|_)acc$/, '$1accuracy');
  return n;
}

export class TrainingParser {
  private framework: Framework | null = null;
  private readonly epochs = new Map<number, Metrics>();
  private kerasEpoch = 0;
  private table: string[] | null = null;
  private csvHeader: string[] | null = null;

  constructor(
    readonly file: string,
    /** Lightning's metrics.csv: every line is a CSV row. */
    public metricsCsv = false,
  ) {}

  line(raw: string): void {
    if (this.metricsCsv) {
      this.csvRow(raw);
      return;
    }
    // Cheap filter: nearly every log line is not training output.
    if (!this.table && !TRAINING_HINT.test(raw)) return;
    const clean = stripAnsi(raw);
    for (const segment of clean.split(/[\r\b]+/)) if (segment.trim()) this.segment(segment);
  }

  private set(epoch: number, framework: Framework, metrics: Metrics, replace: boolean): void {
    this.framework ??= framework;
    const at = this.epochs.get(epoch);
    if (!at || replace) this.epochs.set(epoch, { ...(replace ? {} : at), ...metrics });
    else Object.assign(at, metrics);
  }

  private segment(text: string): void {
    let m = EPOCH_HEADER.exec(text);
    if (m) {
      this.kerasEpoch = Number(m[1]);
      return;
    }
    m = LIGHTNING.exec(text);
    if (m) {
      const metrics = pairs(m[4] ?? '', PAIR_EQ, 'lightning');
      // [01:57<00:00, ...]: the time the epoch has run so far (its last update: the whole epoch).
      const took = /\[(?:(\d+):)?(\d+):(\d+)</.exec(text);
      if (took && Object.keys(metrics).length > 0)
        metrics.time_s = Number(took[1] ?? 0) * 3600 + Number(took[2]) * 60 + Number(took[3]);
      if (Object.keys(metrics).length > 0) this.set(Number(m[1]) + 1, 'lightning', metrics, false);
      return;
    }
    if (HF_DICT.test(text)) {
      this.huggingFace(text);
      return;
    }
    m = PLAIN_EPOCH.exec(text);
    if (m) {
      const metrics = pairs(` - ${m[3]}`, KERAS_PAIR, 'plain');
      if (Object.keys(metrics).length > 0) this.set(Number(m[1]), 'plain', metrics, false);
      return;
    }
    m = KERAS_PROGRESS.exec(text);
    if (m && text.includes(' - ')) {
      // Only an epoch's final bar is its result: the full step count, not an ETA update.
      if (m[1] !== m[2] || /ETA:/.test(text)) return;
      const metrics = pairs(text, KERAS_PAIR, 'keras');
      if (Object.keys(metrics).length === 0) return;
      const took = KERAS_TIME.exec(text);
      if (took) metrics.time_s = Number(took[1]) * (took[2] === 'ms' ? 0.001 : took[2] === 'm' ? 60 : 1);
      const epoch = Math.max(1, this.kerasEpoch);
      const had = this.epochs.get(epoch);
      // Keras 3 prints the last bar twice, the second time with val_*: keep the fuller one.
      const replace = !had || Object.keys(metrics).length >= Object.keys(had).length;
      if (replace) this.set(epoch, 'keras', metrics, true);
      return;
    }
    this.hfTable(text);
  }

  private huggingFace(text: string): void {
    const fields: Record<string, string> = {};
    for (const p of text.matchAll(HF_PAIR)) fields[p[1] as string] = p[2] as string;
    if ('train_runtime' in fields || fields.epoch === undefined) return; // the summary, not an epoch
    const epoch = Math.max(1, Math.ceil(toNumber(fields.epoch) - 1e-6));
    const metrics: Metrics = {};
    for (const [key, value] of Object.entries(fields)) {
      const name = metricName(key, 'huggingface');
      if (!name || /_(?:runtime|samples_per_second|steps_per_second)$/.test(name)) continue;
      const n = toNumber(value);
      if (!Number.isNaN(n) || /nan/i.test(value)) metrics[name] = n;
    }
    if (Object.keys(metrics).length > 0) this.set(epoch, 'huggingface', metrics, false);
  }

  /** The Trainer's table: `Epoch  Training Loss  Validation Loss  Accuracy` then one row per epoch. */
  private hfTable(text: string): void {
    const cells = text
      .split(/\t|\s{2,}|\|/)
      .map((c) => c.trim())
      .filter((c) => c !== '');
    if (cells.includes('Epoch') && cells.some((c) => /Training Loss|Validation Loss/.test(c))) {
      this.table = cells;
      return;
    }
    if (!this.table || cells.length !== this.table.length || !/^\d+$/.test(cells[0] ?? '')) return;
    const metrics: Metrics = {};
    let epoch = 0;
    this.table.forEach((column, i) => {
      const value = cells[i] as string;
      if (column === 'Epoch') epoch = Number(value);
      else if (column === 'Step' || value === 'No log') return;
      else {
        const name =
          column === 'Training Loss'
            ? 'loss'
            : column === 'Validation Loss'
              ? 'val_loss'
              : `val_${column.toLowerCase().replace(/\W+/g, '_')}`;
        metrics[name] = toNumber(value);
      }
    });
    if (epoch > 0) this.set(epoch, 'huggingface', metrics, false);
  }

  private csvRow(raw: string): void {
    const cells = raw.trim().split(',');
    if (!this.csvHeader) {
      this.csvHeader = cells;
      return;
    }
    const epochAt = this.csvHeader.indexOf('epoch');
    const epochText = cells[epochAt];
    if (!epochText) return;
    const metrics: Metrics = {};
    this.csvHeader.forEach((column, i) => {
      const value = cells[i];
      const name = metricName(column, 'lightning');
      if (name && value !== undefined && value !== '') metrics[name] = toNumber(value);
    });
    this.set(Number(epochText) + 1, 'lightning', metrics, false);
  }

  finish(): TrainingRun | null {
    if (this.epochs.size === 0 || !this.framework) return null;
    const epochs = [...this.epochs]
      .sort((a, b) => a[0] - b[0])
      .map(([epoch, metrics]) => ({ epoch, ...metrics }) as Epoch);
    return summariseRun(this.file, this.framework, epochs);
  }
}

function pairs(text: string, pattern: RegExp, framework: Framework): Metrics {
  const metrics: Metrics = {};
  for (const m of text.matchAll(pattern)) {
    const name = metricName(m[1] as string, framework);
    if (name) metrics[name] = toNumber(m[2] as string);
  }
  return metrics;
}

/** Best epoch, overfitting and non-finite losses of a run whose epochs are known. */
export function summariseRun(file: string, framework: Framework, epochs: Epoch[]): TrainingRun {
  let bestEpoch: number | null = null;
  let best = Number.POSITIVE_INFINITY;
  for (const e of epochs) {
    const v = e.val_loss;
    if (v !== undefined && Number.isFinite(v) && v < best) {
      best = v;
      bestEpoch = e.epoch;
    }
  }
  const nonFinite: TrainingRun['nonFinite'] = [];
  for (const e of epochs) {
    for (const [metric, value] of Object.entries(e)) {
      if (/loss/.test(metric) && !Number.isFinite(value))
        nonFinite.push({ epoch: e.epoch, metric, value: String(value) });
    }
  }
  return { file, framework, epochs, bestEpoch, overfitting: detectOverfitting(epochs), nonFinite };
}

export function detectOverfitting(epochs: Epoch[]): Overfitting {
  const loss = (e: Epoch | undefined) => e?.loss ?? Number.NaN;
  const val = (e: Epoch | undefined) => e?.val_loss ?? Number.NaN;
  const gapOf = (e: Epoch | undefined) =>
    Number.isFinite(val(e)) && Number.isFinite(loss(e)) ? round(val(e) - loss(e)) : null;
  const result: Overfitting = {
    detected: false,
    fromEpoch: null,
    gap: gapOf(epochs.at(-1)),
    gapAtStart: null,
    rule: OVERFITTING_RULE,
  };
  for (let i = 1; i + 1 < epochs.length; i++) {
    const [a, b, c] = [epochs[i - 1], epochs[i], epochs[i + 1]];
    // Comparisons with NaN are false: epochs without both losses never count.
    const valRises = val(b) > val(a) && val(c) > val(b);
    const lossFalls = loss(b) < loss(a) && loss(c) < loss(b);
    if (b && valRises && lossFalls) {
      result.detected = true;
      result.fromEpoch = b.epoch;
      result.gapAtStart = gapOf(b);
      break;
    }
  }
  return result;
}

function round(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}
