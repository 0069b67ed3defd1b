import type { Logger } from 'pino';

/** What a tick returns when it left work that is due now: the loop runs it again at once (after other I/O), not after the interval. */
export const moreDueNow = Symbol('more due now');

/** Ticks run back to back at most this many times before the loop sleeps anyway. */
const maxBackToBack = 50;

/**
 * A boring background loop: runs `tick` every `intervalMs`, never overlapping itself, never
 * throwing out of the loop (errors go to the log), sleeping abortably, draining on stop.
 */
export class BackgroundLoop {
  private running = false;
  private abort = new AbortController();
  private done: Promise<void> = Promise.resolve();

  constructor(
    private readonly name: string,
    private readonly intervalMs: number,
    private readonly tick: () => Promise<unknown>,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.done = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    await this.done;
  }

  private async run(): Promise<void> {
    let backToBack = 0;
    while (this.running) {
      let outcome: unknown;
      try {
        outcome = await this.tick();
      } catch (error) {
        this.log.error({ err: error, loop: this.name }, 'background loop tick failed');
      }
      if (outcome === moreDueNow && backToBack < maxBackToBack) {
        backToBack++;
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      backToBack = 0;
      await sleep(this.intervalMs, this.abort.signal);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    // The listener goes when the timer fires: the signal lives as long as the loop.
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    timer.unref?.();
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
