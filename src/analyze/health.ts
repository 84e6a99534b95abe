// The health score: 100 minus listed penalties, each with its reason and points, so anyone can
// check the figure by hand. The formula is documented in HEALTH_FORMULA and the README.
import type { Severity } from './rules.js';

export interface Penalty {
  reason: string;
  points: number;
}

export interface Health {
  score: number;
  grade: 'A' | 'B' | 'C' | 'D' | 'F';
  penalties: Penalty[];
  recommendations: string[];
  formula: string;
}

export const HEALTH_FORMULA = [
  'score = max(0, 100 - sum of penalties), each penalty capped as listed:',
  '- error events: 2 points per 1 % of events at ERROR or CRITICAL (at most 30)',
  '- CRITICAL events: 10 points when there is at least one',
  '- each error category: critical 10, high 5, medium 2, low 1 points (at most 30 together)',
  '- training: 20 points for NaN/inf losses, 10 for overfitting (per run, at most 30 together)',
  '- API: 2 points per 1 % of requests with a 5xx status (at most 20); 1 point per 1 % of slow requests (at most 10)',
  '- input: 5 points when lines or files were skipped',
  'grades: A >= 90, B >= 75, C >= 60, D >= 40, F below',
].join('\n');

export interface HealthInput {
  events: number;
  errorEvents: number;
  criticalEvents: number;
  categories: { category: string; severity: Severity; count: number; advice: string }[];
  training: {
    file: string;
    nonFinite: number;
    overfitting: boolean;
    fromEpoch: number | null;
    bestEpoch: number | null;
  }[];
  requests: number;
  serverErrors: number;
  slowRequests: number;
  slowMs: number;
  skipped: number;
}

const CATEGORY_POINTS: Record<Severity, number> = { critical: 10, high: 5, medium: 2, low: 1 };

const pct = (part: number, whole: number) => (whole === 0 ? 0 : (100 * part) / whole);
const r1 = (n: number) => Math.round(n * 10) / 10;

export function healthScore(input: HealthInput): Health {
  const penalties: Penalty[] = [];
  const recommendations: string[] = [];
  const add = (reason: string, points: number) => {
    if (points > 0) penalties.push({ reason, points: r1(points) });
  };
  const errorShare = pct(input.errorEvents, input.events);
  add(
    `${r1(errorShare)} % of events are errors (${input.errorEvents} of ${input.events})`,
    Math.min(30, 2 * errorShare),
  );
  if (input.criticalEvents > 0) add(`${input.criticalEvents} CRITICAL events`, 10);
  let categoryPoints = 0;
  for (const c of input.categories) {
    const points = Math.min(CATEGORY_POINTS[c.severity], 30 - categoryPoints);
    categoryPoints += points;
    add(`${c.category} errors (${c.severity}, ${c.count})`, points);
    recommendations.push(`${c.category}: ${c.advice}`);
  }
  let trainingPoints = 0;
  for (const t of input.training) {
    if (t.nonFinite > 0) {
      const points = Math.min(20, 30 - trainingPoints);
      trainingPoints += points;
      add(`NaN/inf losses in ${t.file}`, points);
      recommendations.push(
        `${t.file}: the loss became NaN/inf: lower the learning rate, clip gradients and check the inputs.`,
      );
    }
    if (t.overfitting) {
      const points = Math.min(10, 30 - trainingPoints);
      trainingPoints += points;
      add(`overfitting from epoch ${t.fromEpoch} in ${t.file}`, points);
      recommendations.push(
        `${t.file}: validation loss rises from epoch ${t.fromEpoch}: keep the checkpoint of epoch ${t.bestEpoch}, stop early, or add regularisation/data.`,
      );
    }
  }
  const serverShare = pct(input.serverErrors, input.requests);
  add(
    `${r1(serverShare)} % of requests failed with 5xx (${input.serverErrors} of ${input.requests})`,
    Math.min(20, 2 * serverShare),
  );
  if (serverShare > 0)
    recommendations.push('API: look at the endpoints with the most 5xx responses first (byEndpoint).');
  const slowShare = pct(input.slowRequests, input.requests);
  add(
    `${r1(slowShare)} % of requests took ${input.slowMs} ms or more (${input.slowRequests})`,
    Math.min(10, slowShare),
  );
  if (slowShare > 0) recommendations.push('API: the slow request examples show which endpoints to profile.');
  if (input.skipped > 0) {
    add(`${input.skipped} lines or files skipped (see "skipped")`, 5);
    recommendations.push(
      'Input: some lines or files were skipped; the "skipped" section says which and why.',
    );
  }
  const score = Math.max(0, Math.round(100 - penalties.reduce((sum, p) => sum + p.points, 0)));
  const grade = score >= 90 ? 'A' : score >= 75 ? 'B' : score >= 60 ? 'C' : score >= 40 ? 'D' : 'F';
  return { score, grade, penalties, recommendations, formula: HEALTH_FORMULA };
}
