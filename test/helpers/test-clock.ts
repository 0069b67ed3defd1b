import type { Clock } from '../../src/domain/clock.js';

/**
 * A clock a test moves forward: it runs with real time plus an offset, so loops and deadlines
 * keep flowing while a test jumps hours ahead to open a maintenance window or end a soak.
 */
export class TestClock implements Clock {
  private offsetMs = 0;

  now(): number {
    return Date.now() + this.offsetMs;
  }

  advance(ms: number): void {
    this.offsetMs += ms;
  }

  /** Jumps to a moment (from then on time flows again from there). */
  set(at: Date | number): void {
    this.offsetMs = new Date(at).getTime() - Date.now();
  }
}
