// `npm run bench -- --only analyze`, or `node --import tsx bench/analyze.ts [--lines N] [--runs N]
// [--save FILE]`: `sluice analyze` against what a user
// would otherwise run on the same generated application log (a grep/awk script, and lnav when it
// is installed), printing wall-time ratios and what each answer gets wrong against the truth the
// generator knows. About 1 GB of log by default (12 million lines, written to the scratch folder
// and removed after); `--quick` takes 30,000 lines.

import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
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

/**
 * A seeded log4j-style log written to `file`: levels, stack traces under some errors, the word
 * ERROR inside INFO messages, timed requests. Written a megabyte at a time (a gigabyte of log is
 * more than one string may hold); the truth is counted as it goes.
 */
function generate(file: string, lines: number, seed: number): { bytes: number; truth: Truth } {
  let state = seed;
  const random = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const levels: Record<string, number> = { INFO: 0, WARN: 0, ERROR: 0 };
  // Durations are whole milliseconds from 5 to 3005: a histogram gives their exact p95.
  const durations = new Float64Array(3006);
  let requests = 0;
  let events = 0;
  let written = 0;
  let bytes = 0;
  let batch: string[] = [];
  let batchChars = 0;
  const fd = openSync(file, 'w');
  const flush = () => {
    const text = `${batch.join('\n')}\n`;
    bytes += writeSync(fd, text);
    batch = [];
    batchChars = 0;
  };
  const out = (line: string) => {
    batch.push(line);
    batchChars += line.length + 1;
    written += 1;
    if (batchChars >= 1 << 20) flush();
  };
  let ms = Date.UTC(2025, 2, 2);
  try {
    while (written < lines) {
      ms += Math.floor(random() * 50);
      const time = new Date(ms).toISOString().replace('T', ' ').replace('Z', '').replace('.', ',');
      const r = random();
      events += 1;
      if (r < 0.5) {
        const d = Math.round(5 + random() ** 3 * 3000);
        durations[d] = (durations[d] ?? 0) + 1;
        requests += 1;
        const status = random() < 0.03 ? 503 : 200;
        out(
          `${time} INFO [http-${Math.floor(random() * 16)}] com.acme.Api: RESPONSE GET /users/${Math.floor(random() * 1e5)} ${status} Duration: ${d}ms`,
        );
        levels.INFO = (levels.INFO ?? 0) + 1;
      } else if (r < 0.8) {
        out(
          `${time} INFO [worker-${Math.floor(random() * 8)}] com.acme.Jobs: retried job ${Math.floor(random() * 1e6)} after ERROR from upstream`,
        );
        levels.INFO = (levels.INFO ?? 0) + 1;
      } else if (r < 0.95) {
        out(
          `${time} WARN [worker-${Math.floor(random() * 8)}] com.acme.Jobs: queue depth ${Math.floor(random() * 1000)} above limit`,
        );
        levels.WARN = (levels.WARN ?? 0) + 1;
      } else {
        out(
          `${time} ERROR [worker-${Math.floor(random() * 8)}] com.acme.Db: write failed: Connection refused`,
        );
        out('java.net.ConnectException: Connection refused (ERROR in socket connect)');
        out('\tat com.acme.Db.write(Db.java:42)');
        out('\tat com.acme.Jobs.run(Jobs.java:17)');
        levels.ERROR = (levels.ERROR ?? 0) + 1;
      }
    }
    if (batch.length > 0) flush();
  } finally {
    closeSync(fd);
  }
  // The lower nearest-rank p95, as the report's sketch approximates it.
  const rank = Math.floor(0.95 * (requests - 1));
  let seen = 0;
  let p95 = 0;
  for (let d = 0; d < durations.length; d++) {
    seen += durations[d] ?? 0;
    if (seen > rank) {
      p95 = d;
      break;
    }
  }
  return { bytes, truth: { lines: written, events, levels, p95 } };
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

/** Lines in the full benchmark's log: about 1 GB, the size the issue names (the quick one: 30,000). */
const FULL_LINES = 12_000_000;

/** The table of sluice analyze against grep/awk and lnav on a generated log of `lines` lines. */
export async function runAnalyze(
  o: BenchOptions,
  lines = o.quick ? 30_000 : FULL_LINES,
  save?: string,
): Promise<Section> {
  requireBuild();
  const dir = mkdtempSync(join(o.scratch, 'analyze-'));
  try {
    const log = save ?? join(dir, 'app.log');
    o.say(`analyze: writing ${thousands(lines)} lines of log to ${log} ...`);
    const { bytes, truth } = generate(log, lines, 11);
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
    // Round by round, each contender once a round: a noisy spell of the machine falls on all alike.
    type Run = { ms: number; rss: number | null; answer: Answer | string };
    const runsOf = contenders.map(() => [] as Run[]);
    for (let i = 0; i < runs; i++) {
      for (const [k, c] of contenders.entries()) {
        const run = await c.run();
        runsOf[k]?.push(run);
        o.say(`  [${i + 1}/${runs}] ${c.name}: ${seconds(run.ms)}`);
      }
    }
    const results = contenders.map((c, k) => {
      const list = runsOf[k] ?? [];
      const last = list.at(-1);
      return {
        name: c.name,
        ms: median(list.map((r) => r.ms)),
        rss: last?.rss ?? null,
        answer: last?.answer ?? 'no run',
      };
    });
    const base = results[0]?.ms ?? 0;
    if (!hasLnav()) o.say('analyze: lnav is not installed (apt-get install -y lnav adds it to this table)');
    return {
      name: 'analyze',
      title: `sluice analyze vs the usual tools: ${thousands(truth.lines)} lines (${mib(bytes)}), ${thousands(truth.events)} events`,
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
        `Median of ${runs} run(s) each, in rounds (each contender once a round). Truth: ERROR events ${thousands(truth.levels.ERROR ?? 0)}, p95 ${truth.p95} ms. RSS: ${rssMethod()}.`,
        "Target: the whole analysis at least as fast as lnav's level count alone.",
        'sluice also gives what the others do not: categories with advice, templates, per-endpoint latency, a health score.',
      ],
      data: { lines: truth.lines, bytes, results },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const direct = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (direct) {
  const { values } = parseArgs({
    options: {
      lines: { type: 'string', default: String(FULL_LINES) },
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
