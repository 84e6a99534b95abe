// A clock for the engine loop that moves only when a test says so: timers fire in order as
// time is advanced, and the promises they start are let run between them.
import type { Clock } from '../../src/engine/clock.js';

interface Timer {
  id: number;
  at: number;
  fn: () => void;
}

/** Lets every pending promise chain and immediate callback run (store calls included). */
export async function settle(rounds = 30): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export class FakeClock implements Clock {
  private t = Date.UTC(2026, 0, 1);
  private nextId = 1;
  private timers: Timer[] = [];

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const timer = { id: this.nextId++, at: this.t + Math.max(0, ms), fn };
    this.timers.push(timer);
    return timer.id;
  }

  clearTimeout(id: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== id);
  }

  /** Moves time on by `ms`, firing every timer due on the way, in order. */
  async advance(ms: number): Promise<void> {
    const target = this.t + ms;
    await settle();
    for (;;) {
      const due = this.timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.t = Math.max(this.t, due.at);
      due.fn();
      await settle();
    }
    this.t = target;
    await settle();
  }

  /** Advances in steps until `done()` holds or `limitMs` of fake time has passed. */
  async until(done: () => boolean, limitMs = 600_000, stepMs = 50): Promise<void> {
    for (let spent = 0; !done() && spent < limitMs; spent += stepMs) await this.advance(stepMs);
    if (!done()) throw new Error(`condition not met within ${limitMs} ms of fake time`);
  }
}
