// Local folder: sluice against what a user would otherwise run on the same PT1H.json tree, one
// after another on this machine: DuckDB (four ways), a plain Node script and a plain Python script,
// on two datasets: the classic one (many small blobs, every quirk) and a modern one (big JSON-lines
// blobs, few quirks), each in its own table.
import { availableParallelism, loadavg } from 'node:os';
import { join, relative } from 'node:path';
import { judge, type Summary, signed, type Verdict, verdictCells } from './support/check.js';
import {
  cachedDataset,
  type Dataset,
  type DatasetSpec,
  explainFileError,
  ROOT,
  sizeLabel,
  warmPageCache,
} from './support/dataset.js';
import { lastLine, type Measured, measure, rssMethod } from './support/measure.js';
import type { BenchOptions, Section } from './support/section.js';
import { requireBuild, runSluice, type SluiceRun } from './support/sluice.js';
import { median, mib, ratio, secondsRange, thousands } from './support/stats.js';
import { markdownTable } from './support/table.js';

export const LOCAL_DATASET: Record<'full' | 'quick', DatasetSpec> = {
  full: { size: 500e6, seed: 7, days: 60 },
  quick: { size: 50e6, seed: 7, days: 6 },
};

/** Blobs as modern exports write them: ~1,900 of 100 KB - 5 MB, JSON lines, few quirks (--shape modern). */
export const MODERN_DATASET: Record<'full' | 'quick', DatasetSpec> = {
  full: { size: 650e6, seed: 7, days: 20, shape: 'modern' },
  quick: { size: 65e6, seed: 7, days: 2, shape: 'modern' },
};

export interface Attempt {
  /** Time to an answer: for sluice, ingest plus report. */
  ms: number;
  peakRss: number | null;
  summary: Summary;
  verdict: Verdict;
  detail: Record<string, unknown>;
}

interface Contender {
  name: string;
  /** Runs once only: it fails the same way every time, and the failure is the result. */
  once?: boolean;
  run(index: number): Promise<Omit<Attempt, 'verdict'>>;
}

/** Every contender's attempts as results.json keeps them: times, memory, verdicts, errors. */
export function attemptsData(attempts: Map<string, Attempt[]>): Record<string, unknown[]> {
  return Object.fromEntries(
    [...attempts].map(([name, list]) => [
      name,
      list.map((a) => ({
        ms: a.ms,
        peakRss: a.peakRss,
        verdict: a.verdict,
        detail: a.detail,
        error: a.summary.error,
      })),
    ]),
  );
}

/** A contender script's JSON answer, or what stopped it (a file named in its error is shown short). */
export function parsed<T extends Summary = Summary>(m: Measured): T {
  if (m.code !== 0) return { error: lastLine(m.stderr) || `exit ${m.code ?? m.signal}` } as T;
  try {
    const summary = JSON.parse(m.stdout) as T;
    if (summary.error) summary.error = explainFileError(summary.error);
    return summary;
  } catch {
    return { error: `unreadable output: ${lastLine(m.stdout)}` } as T;
  }
}

/** sluice's attempt: time to an answer is ingest plus report; `detail` adds what a benchmark shows. */
export function sluiceAttempt(r: SluiceRun, detail: Record<string, unknown> = {}): Omit<Attempt, 'verdict'> {
  const reportMs = r.report?.wallMs ?? 0;
  return {
    ms: r.ingest.wallMs + reportMs,
    peakRss: r.ingest.peakRss,
    summary: r.summary,
    detail: { ingestMs: r.ingest.wallMs, reportMs, contractDiffs: r.contractDiffs, ...detail },
  };
}

function script(name: string, command: string, args: string[], once = false): Contender {
  return {
    name,
    once,
    async run() {
      const m = await measure(command, args);
      return { ms: m.wallMs, peakRss: m.peakRss, summary: parsed(m), detail: { exit: m.code } };
    },
  };
}

export function localContenders(ds: Dataset, scratch: string): Contender[] {
  const node = process.execPath;
  const bench = join(ROOT, 'bench');
  const duckdb = join(bench, 'duckdb/query.mjs');
  return [
    {
      name: 'sluice ingest + report',
      async run(index) {
        const r = await runSluice(ds.dir, join(scratch, `local-${index}.db`), ds.truth);
        return sluiceAttempt(r, { reportPeakRss: r.report?.peakRss ?? null });
      },
    },
    script('DuckDB read_ndjson typed', node, [duckdb, ds.dir, 'typed'], true),
    script('DuckDB read_json typed, format auto', node, [duckdb, ds.dir, 'auto']),
    script('DuckDB read_ndjson typed, wrappers skipped', node, [duckdb, ds.dir, 'lines']),
    script('DuckDB read_ndjson_objects + SQL', node, [duckdb, ds.dir, 'objects']),
    script('naive Node (readline + JSON.parse)', node, [join(bench, 'naive/node-local.mjs'), ds.dir]),
    script('naive Python (json.loads per line)', 'python3', [join(bench, 'naive/python-local.py'), ds.dir]),
  ];
}

/**
 * Runs every contender `runs` times, round-robin (A B C D, A B C D, ...), so that a noisy
 * neighbour slows all of them alike rather than whichever happened to run then.
 */
export async function runRounds(
  contenders: Contender[],
  runs: number,
  truth: Record<string, unknown>,
  say: (line: string) => void,
): Promise<Map<string, Attempt[]>> {
  const attempts = new Map<string, Attempt[]>(contenders.map((c) => [c.name, []]));
  for (let round = 0; round < runs; round++) {
    for (const c of contenders) {
      const done = attempts.get(c.name) as Attempt[];
      if (c.once && done.length > 0) continue;
      const a = await c.run(round);
      const verdict = judge(a.summary, truth);
      done.push({ ...a, verdict });
      const outcome = a.summary.error
        ? `error: ${a.summary.error.slice(0, 120)}`
        : `${thousands(a.summary.records ?? 0)} records`;
      say(`  [${round + 1}/${runs}] ${c.name}: ${(a.ms / 1000).toFixed(2)} s, ${outcome}`);
    }
  }
  return attempts;
}

/** Both datasets, one table each. */
export async function runLocal(o: BenchOptions): Promise<Section[]> {
  requireBuild();
  const pick = (d: typeof LOCAL_DATASET) => (o.quick ? d.quick : d.full);
  return [
    await runLocalOn('local', 'classic', pick(LOCAL_DATASET), o),
    await runLocalOn('local-modern', 'modern', pick(MODERN_DATASET), o),
  ];
}

async function runLocalOn(name: string, shape: string, spec: DatasetSpec, o: BenchOptions): Promise<Section> {
  const ds = await cachedDataset(spec, o.say);
  const warm = warmPageCache(ds.dir);
  o.say(
    `local: ${sizeLabel(ds.size)} dataset, ${thousands(ds.blobs)} blobs; warm-up read ${thousands(warm.files)} files in ${(warm.ms / 1000).toFixed(1)} s`,
  );
  const loadBefore = loadavg();
  const contenders = localContenders(ds, o.scratch);
  const attempts = await runRounds(contenders, o.runs, ds.truth, o.say);
  const loadAfter = loadavg();

  const sluice = attempts.get(contenders[0]?.name as string) as Attempt[];
  const sluiceOk = sluice.filter((a) => !a.summary.error);
  const sluiceMs = sluiceOk.length > 0 ? median(sluiceOk.map((a) => a.ms)) : 0;
  const answeredMs = (c: Contender) => {
    const answered = (attempts.get(c.name) as Attempt[]).filter((a) => !a.summary.error);
    return answered.length > 0 ? median(answered.map((a) => a.ms)) : Number.POSITIVE_INFINITY;
  };
  // The strongest contender: the fastest of the others that gave an answer, exact or not.
  const others = contenders.slice(1).filter((c) => answeredMs(c) < Number.POSITIVE_INFINITY);
  const strongest = others.sort((a, b) => answeredMs(a) - answeredMs(b))[0];
  const rows = contenders.map((c) => {
    const list = attempts.get(c.name) as Attempt[];
    const answered = list.filter((a) => !a.summary.error);
    const timed = answered.length > 0 ? answered : list;
    const ms = timed.map((a) => a.ms);
    const rss = timed.map((a) => a.peakRss).filter((x): x is number => x !== null);
    const last = timed[timed.length - 1] as Attempt;
    const notes: string[] = [];
    if (answered.length === 0) notes.push(`failed after ${secondsRange(ms)} (error below)`);
    if (c === contenders[0] && answered.length > 0) {
      notes.push(
        `ingest ${secondsRange(answered.map((a) => a.detail.ingestMs as number))} + report ${secondsRange(answered.map((a) => a.detail.reportMs as number))}`,
      );
      const contract = last.detail.contractDiffs as string[] | null;
      if (contract)
        notes.push(contract.length === 0 ? 'full report = truth.json' : `${contract.length} contract diffs`);
    }
    if (answered.length > 0 && last.verdict.recordsDelta !== 0) {
      notes.push(`${signed(last.verdict.recordsDelta ?? 0)} records vs truth`);
    }
    // Records the contender missed (negative: counted too many); `|| 0` keeps -0 out of the table.
    const lost = answered.length > 0 ? -(last.verdict.recordsDelta ?? 0) || 0 : null;
    return {
      contender: c === strongest ? `**${c.name}** (fastest other)` : c.name,
      'time to answer': answered.length > 0 ? secondsRange(ms) : 'no answer',
      'vs sluice': answered.length > 0 && sluiceMs > 0 ? ratio(median(ms), sluiceMs) : 'n/a',
      'records lost': lost === null ? 'all (no answer)' : thousands(lost),
      'peak RSS': rss.length > 0 ? mib(Math.max(...rss)) : 'n/a',
      ...verdictCells(answered.length > 0 ? last.verdict : judge(last.summary, ds.truth)),
      notes: notes.join('; '),
    };
  });

  const diffNotes = contenders.flatMap((c) => {
    const list = attempts.get(c.name) as Attempt[];
    const last = list[list.length - 1];
    if (!last) return [];
    if (last.summary.error) return [`${c.name} gave no answer: ${last.summary.error}`];
    return last.verdict.diffs.length > 0 ? [`${c.name} vs truth: ${last.verdict.diffs.join(' | ')}`] : [];
  });
  const quirks = (ds.truth._about as { quirks?: Record<string, number> }).quirks ?? {};
  const strongestRow = rows[contenders.indexOf(strongest as Contender)];
  const strongestNote = strongestRow
    ? `Strongest contender: ${strongest?.name}, ${strongestRow['vs sluice']} sluice's time, ${strongestRow['records lost']} records lost.`
    : 'No other contender gave an answer.';
  const notes = [
    strongestNote,
    `Dataset: \`sluice synth${shape === 'classic' ? '' : ` --shape ${shape}`} --size ${sizeLabel(ds.size)} --seed ${ds.seed} --days ${ds.days}\` in ${relative(ROOT, ds.dir)} (${ds.reused ? 'reused' : 'generated now'}): ${thousands(ds.blobs)} blobs, ${thousands(Math.round(ds.bytes / 1e6))} MB, ${thousands(ds.records)} records, ${thousands(ds.truth.malformedLines as number)} malformed lines; quirks: ${Object.entries(
      quirks,
    )
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
    `Page cache: every file was read once, untimed, before the first contender (${thousands(Math.round(warm.bytes / 1e6))} MB in ${(warm.ms / 1000).toFixed(1)} s), so all contenders read from memory, not disk.`,
    `Time to answer: median of ${o.runs} run(s), run round-robin, (min–max) in brackets; sluice's is ingest + report. "vs sluice" = contender time / sluice time, measured in this same run. Peak RSS: ${rssMethod()}, highest of the runs.`,
    `Checks against truth.json: records exact; status classes exact; p50/p95/p99 within 1 %; byModel = every (model, version) group's counts exact and percentiles within 1 %.`,
    `Machine: ${availableParallelism()} cores, load average ${loadBefore.map((x) => x.toFixed(1)).join('/')} before and ${loadAfter.map((x) => x.toFixed(1)).join('/')} after (shared and noisy: read the ratios, not the seconds).`,
    ...diffNotes,
  ];
  return {
    name,
    title: `Local folder, ${shape} blobs: ${sizeLabel(ds.size)}, ${thousands(ds.blobs)} PT1H.json blobs`,
    table: markdownTable(
      [
        'contender',
        'time to answer',
        'vs sluice',
        'records lost',
        'peak RSS',
        'records',
        'classes',
        'p50/p95/p99',
        'byModel',
        'notes',
      ],
      rows,
    ),
    notes,
    data: {
      dataset: {
        dir: relative(ROOT, ds.dir),
        ...spec,
        blobs: ds.blobs,
        bytes: ds.bytes,
        records: ds.records,
      },
      warmUp: warm,
      load: { before: loadBefore, after: loadAfter },
      rows,
      attempts: attemptsData(attempts),
    },
  };
}
