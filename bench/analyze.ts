// `npm run bench -- --only analyze`, or `node --import tsx bench/analyze.ts [--lines N] [--runs N]
// [--save FILE]`: `sluice analyze` against what a user
// would otherwise run on the same generated application log (a grep/awk script, and lnav when it
// is installed), printing wall-time ratios and what each answer gets wrong against the truth the
// generator knows. Kept small by default: the machine is shared.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { lastLine, measure, rssMethod } from './support/measure.js';
import type { BenchOptions, Section } from './support/section.js';
import { CLI, requireBuild } from './support/sluice.js';
import { median, mib, ratio, seconds, thousands } from './support/stats.js';
import { markdownTable } from './support/table.js';

interface Truth {
  lines: number;
  events: number;
  levels: Record<string, number>;
  p95: number;
}

interface Answer {
  events: number | null;
  errors: number | null;
  p95: number | null;
}

/** A seeded log4j-style log: levels, stack traces under some errors, the word ERROR inside INFO messages, timed requests. */
function generate(lines: number, seed: number): { text: string; truth: Truth } {
  let state = seed;
  const random = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const out: string[] = [];
  const levels: Record<string, number> = { INFO: 0, WARN: 0, ERROR: 0 };
  const durations: number[] = [];
  let events = 0;
  let ms = Date.UTC(2025, 2, 2);
  while (out.length < lines) {
    ms += Math.floor(random() * 50);
    const time = new Date(ms).toISOString().replace('T', ' ').replace('Z', '').replace('.', ',');
    const r = random();
    events += 1;
    if (r < 0.5) {
      const d = Math.round(5 + random() ** 3 * 3000);
      durations.push(d);
      const status = random() < 0.03 ? 503 : 200;
      out.push(
        `${time} INFO [http-${Math.floor(random() * 16)}] com.acme.Api: RESPONSE GET /users/${Math.floor(random() * 1e5)} ${status} Duration: ${d}ms`,
      );
      levels.INFO = (levels.INFO ?? 0) + 1;
    } else if (r < 0.8) {
      out.push(
        `${time} INFO [worker-${Math.floor(random() * 8)}] com.acme.Jobs: retried job ${Math.floor(random() * 1e6)} after ERROR from upstream`,
      );
      levels.INFO = (levels.INFO ?? 0) + 1;
    } else if (r < 0.95) {
      out.push(
        `${time} WARN [worker-${Math.floor(random() * 8)}] com.acme.Jobs: queue depth ${Math.floor(random() * 1000)} above limit`,
      );
      levels.WARN = (levels.WARN ?? 0) + 1;
    } else {
      out.push(
        `${time} ERROR [worker-${Math.floor(random() * 8)}] com.acme.Db: write failed: Connection refused`,
      );
      out.push('java.net.ConnectException: Connection refused (ERROR in socket connect)');
      out.push('\tat com.acme.Db.write(Db.java:42)');
      out.push('\tat com.acme.Jobs.run(Jobs.java:17)');
      levels.ERROR = (levels.ERROR ?? 0) + 1;
    }
  }
  durations.sort((a, b) => a - b);
  return {
    text: `${out.join('\n')}\n`,
    truth: {
      lines: out.length,
      events,
      levels,
      p95: durations[Math.floor(0.95 * (durations.length - 1))] ?? 0,
    },
  };
}

// What a user writes first: count lines that say ERROR, and the 95th percentile of "Duration: Nms".
const GREP_AWK = `
f="$1"
errors=$(grep -c 'ERROR' "$f")
lines=$(wc -l < "$f")
p95=$(grep -o 'Duration: [0-9]*ms' "$f" | awk '{gsub("ms","",$2); print $2}' | sort -n | awk '{a[NR]=$1} END {print a[int(0.95*(NR-1))+1]}')
echo "{\\"events\\": $lines, \\"errors\\": $errors, \\"p95\\": $p95}"
`;

function hasLnav(): boolean {
  try {
    execFileSync('lnav', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function verdict(answer: Answer, truth: Truth): string {
  const wrong: string[] = [];
  const errors = truth.levels.ERROR ?? 0;
  if (answer.events !== null && answer.events !== truth.events)
    wrong.push(
      `events ${thousands(answer.events)} (true ${thousands(truth.events)}: stack-trace lines counted as events)`,
    );
  if (answer.errors === null) wrong.push('no error count');
  else if (answer.errors !== errors)
    wrong.push(`errors ${thousands(answer.errors)} (true ${thousands(errors)})`);
  if (answer.p95 === null) wrong.push('no latency');
  else if (Math.abs(answer.p95 - truth.p95) > truth.p95 * 0.01)
    wrong.push(`p95 ${answer.p95} (true ${truth.p95})`);
  return wrong.length === 0 ? 'right' : wrong.join('; ');
}

/** The table of sluice analyze against grep/awk and lnav on a generated log of `lines` lines. */
export async function runAnalyze(
  o: BenchOptions,
  lines = o.quick ? 30_000 : 300_000,
  save?: string,
): Promise<Section> {
  requireBuild();
  const dir = mkdtempSync(join(o.scratch, 'analyze-'));
  try {
    const { text, truth } = generate(lines, 11);
    const log = join(dir, 'app.log');
    writeFileSync(log, text);
    if (save) writeFileSync(save, text);
    const script = join(dir, 'grep-awk.sh');
    writeFileSync(script, GREP_AWK);
    const runs = Math.max(1, o.runs);
    const contenders: {
      name: string;
      run: () => Promise<{ ms: number; rss: number | null; answer: Answer | string }>;
    }[] = [
      {
        name: 'sluice analyze',
        run: async () => {
          const m = await measure(process.execPath, [CLI, 'analyze', log, '--format', 'json']);
          if (m.code !== 0) return { ms: m.wallMs, rss: m.peakRss, answer: lastLine(m.stderr) };
          const a = JSON.parse(m.stdout);
          return {
            ms: m.wallMs,
            rss: m.peakRss,
            answer: {
              events: a.events,
              errors: a.levels.ERROR + a.levels.CRITICAL,
              p95: a.api.latencyMs.p95,
            },
          };
        },
      },
      {
        name: 'grep + awk + sort',
        run: async () => {
          const m = await measure('bash', [script, log]);
          if (m.code !== 0) return { ms: m.wallMs, rss: m.peakRss, answer: lastLine(m.stderr) };
          return { ms: m.wallMs, rss: m.peakRss, answer: JSON.parse(m.stdout) as Answer };
        },
      },
    ];
    if (hasLnav()) {
      contenders.push({
        name: 'lnav (SQL over all_logs)',
        run: async () => {
          const m = await measure('lnav', [
            '-n',
            '-c',
            ';SELECT log_level, count(*) AS n FROM all_logs GROUP BY log_level',
            '-c',
            ':write-csv-to -',
            log,
          ]);
          if (m.code !== 0)
            return { ms: m.wallMs, rss: m.peakRss, answer: lastLine(m.stderr) || `exit ${m.code}` };
          const counts = Object.fromEntries(
            m.stdout
              .trim()
              .split('\n')
              .slice(1)
              .map((row) => row.split(','))
              .map(([level, n]) => [level ?? '', Number(n)]),
          );
          const events = Object.values(counts).reduce((s, n) => s + n, 0);
          return {
            ms: m.wallMs,
            rss: m.peakRss,
            answer: { events, errors: counts.error ?? null, p95: null },
          };
        },
      });
    }
    const results: { name: string; ms: number; rss: number | null; answer: Answer | string }[] = [];
    for (const c of contenders) {
      const times: number[] = [];
      let last: { ms: number; rss: number | null; answer: Answer | string } | null = null;
      for (let i = 0; i < runs; i++) {
        last = await c.run();
        times.push(last.ms);
      }
      if (last) results.push({ name: c.name, ms: median(times), rss: last.rss, answer: last.answer });
    }
    const base = results[0]?.ms ?? 0;
    if (!hasLnav()) o.say('analyze: lnav is not installed (apt-get install -y lnav adds it to this table)');
    return {
      name: 'analyze',
      title: `sluice analyze vs the usual tools: ${thousands(truth.lines)} lines (${mib(text.length)}), ${thousands(truth.events)} events`,
      table: markdownTable(
        ['tool', 'wall time', 'vs sluice', 'peak RSS', 'what it gets wrong'],
        results.map((r) => ({
          tool: r.name,
          'wall time': seconds(r.ms),
          'vs sluice': ratio(r.ms, base),
          'peak RSS': mib(r.rss),
          'what it gets wrong':
            typeof r.answer === 'string' ? `failed: ${r.answer}` : verdict(r.answer, truth),
        })),
      ),
      notes: [
        `Median of ${runs} run(s) each. Truth: ERROR events ${thousands(truth.levels.ERROR ?? 0)}, p95 ${truth.p95} ms. RSS: ${rssMethod()}.`,
        "Target: the whole analysis at least as fast as lnav's level count alone.",
        'sluice also gives what the others do not: categories with advice, templates, per-endpoint latency, a health score.',
      ],
      data: { lines: truth.lines, bytes: text.length, results },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const direct = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (direct) {
  const { values } = parseArgs({
    options: {
      lines: { type: 'string', default: '300000' },
      runs: { type: 'string', default: '1' },
      // Keeps a copy of the generated log (to profile sluice on it).
      save: { type: 'string' },
    },
  });
  const scratch = mkdtempSync(join(tmpdir(), 'sluice-bench-analyze-'));
  try {
    const section = await runAnalyze(
      { quick: false, runs: Number(values.runs), scratch, say: (line) => process.stderr.write(`${line}\n`) },
      Number(values.lines),
      values.save,
    );
    process.stdout.write(
      `\n### ${section.title}\n\n${section.table}\n\n${section.notes.map((l) => `- ${l}`).join('\n')}\n`,
    );
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
