// The governor's decision: how many items may run at once, from what the service and the host say.
// Pure: every input and the clock come in as arguments, so test/governor.test.ts drives it by simulation.

/** How one completed call went, as the governor sees it. */
export type Outcome = 'ok' | 'throttled' | 'timeout' | 'error';

/** One completed call. */
export interface Observation {
  /** From start to answer, in ms. Only `ok` calls count as latency samples. */
  rttMs: number;
  /** `throttled` (429/503) and `timeout` are push-back; `error` (404, a bad blob) is not about load. */
  outcome: Outcome;
  /** The service's Retry-After: no increase until it has passed. */
  retryAfterMs?: number;
  /** Calls running when this one completed, itself included: shows whether the limit was in use. */
  inFlight: number;
  /** What the service answered, for the reason string, e.g. `503 ServerBusy`. */
  status?: string;
}

/** What the host can spare, sampled periodically (see host.ts for how each is measured). */
export interface HostSample {
  /** 0..1: share of the memory sluice could use that it is using. */
  memoryFraction: number;
  /** 0..1: busy share of the CPU available to this process. */
  cpuFraction: number;
  /** How late the event loop runs timers, in ms. */
  eventLoopLagMs: number;
}

/** One change of the limit, e.g. `{from: 64, to: 44, reason: '503 ServerBusy x3'}`. */
export interface LimitChange {
  /** Clock time of the decision, in ms. */
  at: number;
  from: number;
  to: number;
  /** Why, in words: `503 ServerBusy x3`, `memory 81% > 75%`, `latency 310ms > baseline 120ms`. */
  reason: string;
}

export interface ControllerOptions {
  /**
   * The limit to start at. It then doubles each interval (fast start) until the first cut or the
   * first sign of latency rising, and grows by one per interval after that. Default 16.
   */
  initialLimit?: number;
  /** The limit is never above this. Default 256. */
  maxConcurrency?: number;
  /** Back off while memoryFraction is above this. Default 0.75. */
  memoryThreshold?: number;
  /** Back off while cpuFraction (the CPU others use, or ours against a cgroup quota) is above this. Default 0.75. */
  cpuThreshold?: number;
  /** Back off while the event loop lags more than this, in ms. Default 200. */
  eventLoopLagThresholdMs?: number;
  /** Factor for soft signals (latency, CPU, event-loop lag), which cost speed. Default 0.9. */
  latencyDecrease?: number;
  /** Factor for hard signals (429/503, timeouts, memory), which fail calls or the process. Default 0.7. */
  pushBackDecrease?: number;
  /**
   * Latency counts as risen when an interval's mean is above the baseline by more than this
   * fraction of it, or by more than noise explains (2.5 standard deviations) when that is more.
   * Default 0.1.
   */
  latencyTolerance?: number;
}

export const CONTROLLER_DEFAULTS: Required<ControllerOptions> = {
  initialLimit: 16,
  maxConcurrency: 256,
  memoryThreshold: 0.75,
  cpuThreshold: 0.75,
  eventLoopLagThresholdMs: 200,
  latencyDecrease: 0.9,
  pushBackDecrease: 0.7,
  latencyTolerance: 0.1,
};

// Vector's ARC uses 2.5 deviations too: noisy latency (blobs of very different sizes) then needs a
// large, sustained rise before it counts, while a steady service is judged by latencyTolerance.
const DEVIATION_SCALE = 2.5;
// Weight of one interval in the baseline: it learns over several intervals, not from one.
const BASELINE_WEIGHT = 0.2;
// An interval lasts about one baseline round trip, so each decision sees the effect of the last one.
const MIN_INTERVAL_MS = 250;
const MAX_INTERVAL_MS = 5000;
// The deepest cut for latency: one slow interval (a GC pause, a huge blob) must not halve us twice.
const MAX_LATENCY_CUT = 0.5;
// The deepest CPU pressure cuts in all, from the limit they found: the busy CPU we read is mostly
// not ours (other programs, a server on the same host that answers us), so past halving, a cut
// costs throughput and frees little for them; the limit holds there while the pressure lasts.
const CPU_FLOOR = 0.5;

/** The additive increase at `limit`: small at low limits, a few percent at high ones. */
export function additiveStep(limit: number): number {
  return Math.max(1, Math.floor(Math.sqrt(limit)));
}

/** What latency looks like when we are not the cause of it. */
interface Baseline {
  /** Mean latency of an interval (exponentially weighted over intervals). */
  mean: number;
  /** How much intervals' means vary around it. */
  variance: number;
  /** How much single calls' latencies vary. */
  callVariance: number;
}

interface Interval {
  /** Latency samples count from here: after a change, calls started under the old limit drain first. */
  measureFrom: number;
  endsAt: number;
  okCount: number;
  rttSum: number;
  rttSquares: number;
  /** Some call completed with the whole limit in use: the limit, not the work supply, was binding. */
  reachedLimit: boolean;
  pushBack: boolean;
}

/**
 * AIMD concurrency limit (see ControllerOptions for the knobs).
 *
 * Each interval (about one round trip) compares the mean latency of successful calls with a
 * baseline. The baseline learns only during fast start and at the limit right after a cut, the
 * lowest concurrency in recent memory; so it never absorbs the queueing our own increases cause,
 * and the limit cannot creep up while latency creeps with it.
 */
export class ConcurrencyController {
  readonly #o: Required<ControllerOptions>;
  #limit: number;
  #fastStart = true;
  /** Host samples in a row with the event loop late: a cut needs two. */
  #lagSamplesOver = 0;
  #baseline: Baseline | undefined;
  /** The limit after the last cut; the baseline learns only at or below it (or during fast start). */
  #anchorLimit = 0;
  #interval: Interval;
  /** Retry-After: no increase before this time. */
  #holdUntil = Number.NEGATIVE_INFINITY;
  #lastDecreaseAt = Number.NEGATIVE_INFINITY;
  #lastPushBackCutAt = Number.NEGATIVE_INFINITY;
  #lastHostDecreaseAt = Number.NEGATIVE_INFINITY;
  /** Mean latency that caused the last latency cut, until latency is back to normal. */
  #congestedRtt: number | undefined;
  /** Measured intervals in a row with latency risen: a cut needs two. */
  #risen = 0;
  #host: HostSample | undefined;
  /** While CPU pressure lasts: the lowest limit it may cut to (CPU_FLOOR of the limit it found). */
  #cpuFloor: number | undefined;
  /** Push-backs since the last change, by what the service said, for the reason string. */
  #pushBacks = new Map<string, number>();

  constructor(options: ControllerOptions = {}, now = 0) {
    this.#o = checkOptions(options);
    const { maxConcurrency, initialLimit } = this.#o;
    this.#limit = Math.min(maxConcurrency, Math.max(1, Math.floor(initialLimit)));
    this.#interval = this.#newInterval(now, now + this.#intervalMs());
  }

  /** How many calls may run at once now. */
  get limit(): number {
    return this.#limit;
  }

  /** Takes in one completed call. Returns the change it caused, if any (at most one). */
  observe(o: Observation, now: number): LimitChange | undefined {
    const interval = this.#interval;
    if (o.inFlight >= this.#limit) interval.reachedLimit = true;
    if (o.outcome === 'ok') {
      if (now >= interval.measureFrom) {
        interval.okCount += 1;
        const rtt = Math.max(0, o.rttMs);
        interval.rttSum += rtt;
        interval.rttSquares += rtt * rtt;
      }
    } else if (o.outcome === 'throttled' || o.outcome === 'timeout') {
      interval.pushBack = true;
      const label = o.status ?? o.outcome;
      this.#pushBacks.set(label, (this.#pushBacks.get(label) ?? 0) + 1);
      if (o.retryAfterMs !== undefined && o.retryAfterMs > 0) {
        this.#holdUntil = Math.max(this.#holdUntil, now + o.retryAfterMs);
      }
      // A call started before the last cut reports on the old limit, which is already cut:
      // reacting again would cut once per call in flight (TCP, likewise, cuts once per window).
      // And once per interval: refusals are quick, so a server that refuses everything for the
      // rest of its rate window would otherwise be answered with a cut every few milliseconds.
      if (now - o.rttMs >= this.#lastDecreaseAt && now >= this.#lastPushBackCutAt + this.#intervalMs()) {
        this.#lastPushBackCutAt = now;
        const change = this.#decrease(this.#o.pushBackDecrease, this.#pushBackReason(o.retryAfterMs), now);
        if (change) return change;
      }
    }
    return this.#endIntervalIfDue(now);
  }

  /** Takes in one host sample. Returns the change it caused, if any (at most one). */
  sampleHost(sample: HostSample, now: number): LimitChange | undefined {
    this.#host = sample;
    this.#lagSamplesOver =
      sample.eventLoopLagMs > this.#o.eventLoopLagThresholdMs ? this.#lagSamplesOver + 1 : 0;
    if (sample.cpuFraction > this.#o.cpuThreshold)
      this.#cpuFloor ??= Math.max(1, Math.floor(this.#limit * CPU_FLOOR));
    else this.#cpuFloor = undefined;
    const over = this.#hostPressure(sample);
    // Once per decision period: work started before a cut still holds its memory until it ends.
    if (over.length > 0 && now >= this.#lastHostDecreaseAt + 2 * this.#intervalMs()) {
      // The deepest cut any pressure asks for, each within its own floor.
      const to = Math.min(...over.map((p) => Math.max(p.floor, Math.floor(this.#limit * p.factor))));
      if (to < this.#limit) {
        this.#lastHostDecreaseAt = now;
        const change = this.#decreaseTo(to, over.map((p) => p.reason).join(', '), now);
        if (change) return change;
      }
    }
    return this.#endIntervalIfDue(now);
  }

  #hostPressure(s: HostSample): { reason: string; factor: number; floor: number }[] {
    const o = this.#o;
    const over: { reason: string; factor: number; floor: number }[] = [];
    if (s.memoryFraction > o.memoryThreshold) {
      over.push({
        reason: `memory ${pct(s.memoryFraction, o.memoryThreshold)} > ${pct(o.memoryThreshold)}`,
        factor: o.pushBackDecrease,
        floor: 1,
      });
    }
    if (s.cpuFraction > o.cpuThreshold) {
      over.push({
        reason: `CPU ${pct(s.cpuFraction, o.cpuThreshold)} > ${pct(o.cpuThreshold)}`,
        factor: o.latencyDecrease,
        floor: this.#cpuFloor ?? 1,
      });
    }
    // One late timer is a pause (start-up, a large listing page parsed at once); lag that lasts is load.
    if (s.eventLoopLagMs > o.eventLoopLagThresholdMs && this.#lagSamplesOver >= 2) {
      over.push({
        reason: `event-loop lag ${ms(s.eventLoopLagMs)} > ${ms(o.eventLoopLagThresholdMs)}`,
        factor: o.latencyDecrease,
        floor: 1,
      });
    }
    return over;
  }

  #endIntervalIfDue(now: number): LimitChange | undefined {
    if (now < this.#interval.endsAt) return undefined;
    const ended = this.#interval;
    this.#interval = this.#newInterval(now, now + this.#intervalMs());
    return this.#decideOnLatency(ended, now);
  }

  /** End of an interval: cut if latency rose, grow if the limit was in use and nothing pushed back. */
  #decideOnLatency(i: Interval, now: number): LimitChange | undefined {
    const n = i.okCount;
    if (n === 0) return undefined; // no evidence either way
    const rtt = i.rttSum / n;
    const callVariance = n > 1 ? Math.max(0, (i.rttSquares - n * rtt * rtt) / (n - 1)) : 0;
    const baseline = this.#baseline ?? { mean: rtt, variance: 0, callVariance };
    this.#baseline = baseline;
    // Noise decides how much rise counts: how much intervals differ, and how much an interval of
    // only n calls can differ by chance (few calls of very different sizes, at a low limit).
    const allowed = Math.max(
      this.#o.latencyTolerance * baseline.mean,
      DEVIATION_SCALE * Math.sqrt(baseline.variance),
      DEVIATION_SCALE * Math.sqrt(baseline.callVariance / n),
    );
    if (rtt > baseline.mean + allowed) {
      // One slow interval is a pause (a neighbour's burst of CPU, a collection, a few huge
      // blobs); queueing we cause lasts. Hold, and cut if the next interval is slow too.
      this.#fastStart = false;
      this.#risen += 1;
      if (this.#risen < 2) return undefined;
      // After a cut in step with the rise, latency we caused falls back to the baseline; latency
      // the service added stays. Closer to staying: accept it as the new normal.
      if (this.#congestedRtt !== undefined && rtt > (this.#congestedRtt + baseline.mean) / 2) {
        this.#baseline = { ...baseline, mean: rtt };
        this.#congestedRtt = undefined;
        return undefined;
      }
      this.#congestedRtt = rtt;
      // Cut in proportion to the rise (queueing grows with concurrency), within [0.5, latencyDecrease].
      const factor = Math.max(MAX_LATENCY_CUT, Math.min(this.#o.latencyDecrease, baseline.mean / rtt));
      return this.#decrease(factor, `latency ${ms(rtt)} > baseline ${ms(baseline.mean)}`, now);
    }
    this.#congestedRtt = undefined;
    this.#risen = 0;
    const holds = rtt <= baseline.mean + allowed / 2;
    if (rtt < baseline.mean - allowed) {
      // A clearly faster service: a level shift, not noise. Without this we would queue up to
      // the old latency, since the baseline does not learn above the anchor. In fast start it
      // also drops a cold first interval (connections being opened) that would hide the knee.
      this.#baseline = { ...baseline, mean: rtt };
    } else if (this.#fastStart ? holds : this.#limit <= this.#anchorLimit) {
      // The baseline learns at low concurrency: in fast start, and at the limit right after a
      // cut, never above it, where it would absorb the queueing our own increases cause.
      // Exponentially weighted mean and variance, as Vector's EwmaVar.
      const diff = rtt - baseline.mean;
      const incr = BASELINE_WEIGHT * diff;
      this.#baseline = {
        mean: baseline.mean + incr,
        variance: (1 - BASELINE_WEIGHT) * (baseline.variance + diff * incr),
        callVariance:
          n > 1
            ? baseline.callVariance + BASELINE_WEIGHT * (callVariance - baseline.callVariance)
            : baseline.callVariance,
      };
    }
    // Latency starting to rise means capacity is near: from here, grow a step at a time, by the
    // square root of the limit (Netflix Gradient2's queue allowance): 1 at 1-3, 4 at 16, 8 at 64.
    if (!holds) this.#fastStart = false;
    if (!holds || !i.reachedLimit || i.pushBack || now < this.#holdUntil) return undefined;
    if (this.#host !== undefined && this.#hostPressure(this.#host).length > 0) return undefined;
    const to = Math.min(
      this.#o.maxConcurrency,
      this.#fastStart ? this.#limit * 2 : this.#limit + additiveStep(this.#limit),
    );
    const why = `latency ${ms(rtt)} holds at baseline ${ms(baseline.mean)}, no push-back`;
    return this.#change(to, this.#fastStart ? `fast start, ${why}` : why, now);
  }

  #decrease(factor: number, reason: string, now: number): LimitChange | undefined {
    return this.#decreaseTo(Math.floor(this.#limit * factor), reason, now);
  }

  #decreaseTo(to: number, reason: string, now: number): LimitChange | undefined {
    this.#fastStart = false;
    this.#lastDecreaseAt = now;
    const change = this.#change(Math.max(1, to), reason, now);
    this.#anchorLimit = this.#limit;
    return change;
  }

  #change(to: number, reason: string, at: number): LimitChange | undefined {
    const from = this.#limit;
    if (to === from) return undefined;
    this.#limit = to;
    this.#risen = 0;
    this.#pushBacks.clear();
    // Judge the new limit by calls that ran under it: let one interval of older calls drain first.
    const interval = this.#intervalMs();
    this.#interval = this.#newInterval(at + interval, at + 2 * interval);
    return { at, from, to, reason };
  }

  #pushBackReason(retryAfterMs: number | undefined): string {
    const counts = [...this.#pushBacks].map(([label, n]) => (n > 1 ? `${label} x${n}` : label));
    const wait = retryAfterMs !== undefined && retryAfterMs > 0 ? `, retry after ${ms(retryAfterMs)}` : '';
    return counts.join(', ') + wait;
  }

  #intervalMs(): number {
    return Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, this.#baseline?.mean ?? 0));
  }

  #newInterval(measureFrom: number, endsAt: number): Interval {
    return {
      measureFrom,
      endsAt,
      okCount: 0,
      rttSum: 0,
      rttSquares: 0,
      reachedLimit: false,
      pushBack: false,
    };
  }
}

/** `concurrency 64 -> 44: 503 ServerBusy x3`: one change as a log line. */
export function describeChange(c: LimitChange): string {
  return `concurrency ${c.from} -> ${c.to}: ${c.reason}`;
}

/** `81%`, or `75.2%` where rounding would make it look equal to the threshold it is above. */
function pct(fraction: number, above?: number): string {
  const whole = Math.round(fraction * 100);
  if (above !== undefined && whole <= Math.round(above * 100)) return `${Math.round(fraction * 1000) / 10}%`;
  return `${whole}%`;
}

function ms(value: number): string {
  if (value < 1000) return `${Math.round(value)}ms`;
  return `${Math.round(value / 100) / 10}s`;
}

const WHOLE: [string, (v: number) => boolean] = ['a whole number >= 1', (v) => Number.isInteger(v) && v >= 1];
const SHARE: [string, (v: number) => boolean] = ['above 0 and at most 1', (v) => v > 0 && v <= 1];
const FACTOR: [string, (v: number) => boolean] = ['above 0 and below 1', (v) => v > 0 && v < 1];
const POSITIVE: [string, (v: number) => boolean] = ['above 0', (v) => v > 0];
const RULES: Record<keyof ControllerOptions, [string, (v: number) => boolean]> = {
  initialLimit: WHOLE,
  maxConcurrency: WHOLE,
  memoryThreshold: SHARE,
  cpuThreshold: SHARE,
  eventLoopLagThresholdMs: POSITIVE,
  latencyDecrease: FACTOR,
  pushBackDecrease: FACTOR,
  latencyTolerance: POSITIVE,
};

/** The defaults with the given options over them; a RangeError names an option that makes no sense. */
function checkOptions(options: ControllerOptions): Required<ControllerOptions> {
  const o = { ...CONTROLLER_DEFAULTS };
  for (const [key, [want, ok]] of Object.entries(RULES) as [
    keyof ControllerOptions,
    [string, (v: number) => boolean],
  ][]) {
    const value = options[key];
    if (value === undefined) continue;
    if (!ok(value)) throw new RangeError(`governor option ${key} must be ${want}, got ${value}`);
    o[key] = value;
  }
  return o;
}
