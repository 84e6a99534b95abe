// The governor: runs calls under an adaptive concurrency limit and says why the limit moves.
// Wiring only: the decision is controller.ts, the semaphore limiter.ts, the host readings host.ts.
import { EventEmitter } from 'node:events';
import { classifyFailure, type Verdict } from './classify.js';
import {
  ConcurrencyController,
  type ControllerOptions,
  type LimitChange,
  type Observation,
} from './controller.js';
import { createHostSampler, type HostSampler } from './host.js';
import { Limiter } from './limiter.js';

export type { Verdict } from './classify.js';
export { classifyFailure } from './classify.js';
export type { ControllerOptions, HostSample, LimitChange, Outcome } from './controller.js';
export { describeChange } from './controller.js';
export type { HostSampler } from './host.js';

export interface GovernorOptions extends ControllerOptions {
  /** Milliseconds now. Default: performance.timeOrigin + performance.now(), epoch ms that never jump back. */
  clock?: () => number;
  /** Calls `tick` every `ms` until the returned stop function is called. Default: an unref'd setInterval. */
  every?: (ms: number, tick: () => void) => () => void;
  /** Where host samples come from; `false` to not watch the host. Default: the real host (host.ts). */
  host?: HostSampler | false;
  /** Milliseconds between host samples. Default 1000. */
  sampleEveryMs?: number;
  /** Reads a failed call: push-back or not, Retry-After. Default: classifyFailure. */
  classify?: (error: unknown) => Verdict;
}

export interface GovernorEvents {
  /** Every change of the limit, with its reason. */
  change: [LimitChange];
}

export class Governor {
  readonly events = new EventEmitter<GovernorEvents>();
  readonly #controller: ConcurrencyController;
  readonly #limiter: Limiter;
  readonly #clock: () => number;
  readonly #classify: (error: unknown) => Verdict;
  readonly #host: HostSampler | undefined;
  readonly #ownsHost: boolean;
  readonly #stopSampling: () => void;

  constructor(options: GovernorOptions = {}) {
    this.#clock = options.clock ?? (() => performance.timeOrigin + performance.now());
    this.#classify = options.classify ?? ((error) => classifyFailure(error));
    this.#controller = new ConcurrencyController(options, this.#clock());
    this.#limiter = new Limiter(this.#controller.limit);
    this.#ownsHost = options.host === undefined;
    this.#host = options.host === false ? undefined : (options.host ?? createHostSampler());
    const every = options.every ?? everyUnref;
    this.#stopSampling = this.#host
      ? every(options.sampleEveryMs ?? 1000, () => this.#sampleHost())
      : () => {};
  }

  /** How many calls may run at once now. */
  get limit(): number {
    return this.#limiter.limit;
  }

  /** Calls running now; above `limit` for a while after a cut, as running calls are let finish. */
  get inFlight(): number {
    return this.#limiter.inFlight;
  }

  /** Calls waiting for a slot. */
  get waiting(): number {
    return this.#limiter.waiting;
  }

  /**
   * Runs `fn` once a slot is free and returns (or throws) what it does. Its duration and outcome
   * feed the limit. `signal` aborts the wait for a slot, not `fn` itself.
   */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.#limiter.acquire(signal);
    const started = this.#clock();
    try {
      const value = await fn();
      this.#observe({ rttMs: this.#clock() - started, outcome: 'ok', inFlight: this.#limiter.inFlight });
      return value;
    } catch (error) {
      this.#observe({
        ...this.#classify(error),
        rttMs: this.#clock() - started,
        inFlight: this.#limiter.inFlight,
      });
      throw error;
    } finally {
      release();
    }
  }

  /**
   * A slot for work timed by the caller (it reports through `observe`); resolves with the release
   * function once the limit allows. `signal` aborts the wait.
   */
  acquire(signal?: AbortSignal): Promise<() => void> {
    return this.#limiter.acquire(signal);
  }

  /** Feeds one call timed elsewhere, e.g. each HTTP try inside a retry loop. */
  observe(o: Omit<Observation, 'inFlight'>): void {
    this.#observe({ ...o, inFlight: this.#limiter.inFlight });
  }

  /** Stops host sampling. Running and waiting calls are not affected. */
  close(): void {
    this.#stopSampling();
    if (this.#ownsHost) this.#host?.close();
  }

  #observe(o: Observation): void {
    this.#apply(this.#controller.observe(o, this.#clock()));
  }

  #sampleHost(): void {
    if (!this.#host) return;
    let sample: ReturnType<HostSampler['sample']>;
    try {
      sample = this.#host.sample();
    } catch {
      return; // an unreadable /proc file must not stop the work; the next sample may do
    }
    this.#apply(this.#controller.sampleHost(sample, this.#clock()));
  }

  #apply(change: LimitChange | undefined): void {
    if (!change) return;
    this.#limiter.setLimit(change.to);
    this.events.emit('change', change);
  }
}

function everyUnref(ms: number, tick: () => void): () => void {
  const timer = setInterval(tick, ms);
  timer.unref();
  return () => clearInterval(timer);
}
