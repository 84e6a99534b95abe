// `sluice health`'s decision, as pure functions: rules read, measured and turned into a verdict.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { measureJob, readAnalyzeHealth } from '../src/health/measure.js';
import { effectiveRules, evaluate, parseRule, RuleError } from '../src/health/rules.js';
import { summaryLine } from '../src/health/summary.js';
import type { JobStatus } from '../src/store/types.js';

const MINUTE = 60_000;
const NOW = Date.UTC(2026, 10, 29, 12, 0, 0);

function status(overrides: Partial<JobStatus> = {}): JobStatus {
  return {
    job: 'june',
    source: 'file:/logs',
    task: 'azure-logs',
    listingComplete: true,
    items: { total: 100, pending: 0, leased: 0, done: 100, failed: 0 },
    bytes: { total: 1000, done: 1000 },
    records: 10_000,
    failures: [],
    workers: [],
    runs: [
      {
        id: 1,
        owner: 'a',
        startedAt: NOW - 90 * MINUTE,
        endedAt: NOW - 60 * MINUTE,
        outcome: 'done',
        stats: {},
      },
    ],
    events: [],
    ...overrides,
  };
}

/** A report with ~5 % of records rate limited. */
const report = {
  records: 10_000,
  malformedLines: 0,
  statusClasses: { success: 9_400, rateLimited: 510, clientError: 40, serverError: 30, noStatus: 20 },
  latencyMs: { count: 9_980, p50: 420, p95: 2_100, p99: 4_000 },
};

const run = (warn: string[], crit: string[], s = status(), r: object | null = report, defaults = true) => {
  const rules = effectiveRules(
    [...warn.map((t) => parseRule(t, 'warn')), ...crit.map((t) => parseRule(t, 'crit'))],
    defaults,
  );
  const measures = measureJob(s, r, NOW);
  const evaluation = evaluate(rules, measures);
  return { ...evaluation, line: summaryLine(s.job, evaluation, measures, rules) };
};

describe('health rules', () => {
  it('a share rule breached at the critical level is CRITICAL (exit 2); the same metric above 60 % is OK', () => {
    const crit = run([], ['rateLimited>1%']);
    assert.equal(crit.verdict, 'CRITICAL');
    assert.equal(crit.code, 2);
    assert.match(
      crit.line,
      /^SLUICE CRITICAL - rateLimited>1% \(rateLimited 5\.1 %, critical\) - job june: 10,000 records, 5\.1 % rate limited, 0\.3 % server errors, 0 failed items \| /,
    );
    // The user's rule on rateLimited replaces its default (warn at 5 %): nothing else is breached.
    const ok = run([], ['rateLimited>60%']);
    assert.equal(ok.verdict, 'OK', ok.line);
    assert.equal(ok.code, 0);
  });

  it('the defaults warn on ~5 % rate limiting and stay quiet on a healthy job', () => {
    assert.equal(run([], []).verdict, 'WARNING');
    const healthy = {
      ...report,
      statusClasses: { ...report.statusClasses, success: 9_900, rateLimited: 10 },
    };
    assert.equal(run([], [], status(), healthy).verdict, 'OK');
  });

  it('perfdata carries each share in % with the thresholds that apply to it', () => {
    const { line } = run(['rateLimited>5%'], ['rateLimited>10%']);
    assert.match(line, / \| .*rateLimited=5\.1%;5;10;0;100/);
    assert.match(line, /p95LatencyMs=2100ms;;;0;/);
    assert.match(line, /failed=0;0;;0;/);
  });

  it('counts, latency and failed items compare in their own units', () => {
    assert.equal(run(['p95LatencyMs>3000'], [], status(), report, false).verdict, 'OK');
    assert.equal(run([], ['p95LatencyMs>2000'], status(), report, false).verdict, 'CRITICAL');
    const failing = status({ items: { total: 100, pending: 0, leased: 0, done: 97, failed: 3 } });
    assert.equal(
      run([], [], failing, { ...report, statusClasses: { ...report.statusClasses, rateLimited: 0 } }).verdict,
      'WARNING',
    );
    assert.equal(run([], ['failed>2%'], failing).verdict, 'CRITICAL');
    assert.equal(run([], ['failed>5%'], failing, report, false).verdict, 'OK');
  });

  it('a job with items left and no sign of work for more than 30 minutes is CRITICAL by default; a finished one is not stalled', () => {
    const stuck = status({ items: { total: 100, pending: 40, leased: 0, done: 60, failed: 0 } });
    const r = run([], [], stuck, null);
    assert.equal(r.verdict, 'CRITICAL');
    assert.match(r.line, /stalledMinutes>30 .*no progress for 60 min/);
    const working = status({
      items: { total: 100, pending: 40, leased: 4, done: 56, failed: 0 },
      workers: [
        {
          owner: 'w1',
          host: 'h',
          done: 56,
          leased: 4,
          records: 1,
          startedAt: NOW - 90 * MINUTE,
          lastSeen: NOW - 5_000,
          left: false,
          stale: false,
          rate: 1,
        },
      ],
    });
    assert.equal(run([], [], working, null).verdict, 'OK');
    assert.equal(measureJob(status(), null, NOW).stalledMinutes?.value, 0);
  });

  it('a worker whose heartbeat stopped while it held items warns by default', () => {
    const s = status({
      items: { total: 100, pending: 0, leased: 4, done: 96, failed: 0 },
      workers: [
        {
          owner: 'w1',
          host: 'h',
          done: 50,
          leased: 0,
          records: 1,
          startedAt: NOW - MINUTE,
          lastSeen: NOW,
          left: false,
          stale: false,
          rate: 1,
        },
        {
          owner: 'w2',
          host: 'g',
          done: 46,
          leased: 4,
          records: 1,
          startedAt: NOW - MINUTE,
          lastSeen: NOW - 10 * MINUTE,
          left: false,
          stale: true,
          rate: 1,
        },
      ],
    });
    const r = run([], [], s, null);
    assert.equal(r.verdict, 'WARNING');
    assert.match(r.line, /staleWorkers>0/);
  });

  it('a rule the user asked for on a metric the job does not measure is UNKNOWN; a default one is skipped', () => {
    const commandJob = status({ task: 'exec' });
    assert.equal(run([], [], commandJob, null).verdict, 'OK');
    const r = run([], ['rateLimited>1%'], commandJob, null);
    assert.equal(r.verdict, 'UNKNOWN');
    assert.equal(r.code, 3);
    assert.match(r.line, /rateLimited is not measured/);
  });

  it('an analyze result is checked by its score: below 70 warns, below 50 is critical', () => {
    const at = (score: number) => {
      const measures = {
        score: { value: readAnalyzeHealth({ health: { score, grade: 'C' } }, 'r.json').score },
      };
      return evaluate(effectiveRules([], true), measures).verdict;
    };
    assert.equal(at(85), 'OK');
    assert.equal(at(65), 'WARNING');
    assert.equal(at(40), 'CRITICAL');
    assert.equal(evaluate([parseRule('score<90', 'crit')], { score: { value: 85 } }).verdict, 'CRITICAL');
    assert.throws(() => readAnalyzeHealth({ files: [] }, 'r.json'), /r\.json has no "health"/);
  });

  it('refuses rules it cannot read, with what to write instead', () => {
    assert.throws(() => parseRule('rateLimited', 'warn'), RuleError);
    assert.throws(() => parseRule('rateLimted>5%', 'warn'), /unknown metric "rateLimted"/);
    assert.throws(() => parseRule('p95LatencyMs>5%', 'warn'), /not a share/);
    assert.deepEqual(
      { ...parseRule(' serverError >= 1.5 % ', 'crit') },
      {
        level: 'crit',
        metric: 'serverError',
        op: '>=',
        threshold: 1.5,
        percent: true,
        text: 'serverError>=1.5%',
      },
    );
  });
});
