/**
 * Wakes long-polling devices when work for them appears. Register before looking in the
 * store, then wait: an operation created between the look and the wait still wakes the poll.
 * This is the in-process signal; with PostgreSQL, notifications from other replicas arrive
 * through `wake` as well.
 */
export class WorkSignal {
  private readonly waiters = new Map<string, Set<() => void>>();

  register(deviceId: string): Waiter {
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    let set = this.waiters.get(deviceId);
    if (!set) this.waiters.set(deviceId, (set = new Set()));
    set.add(wake);
    return {
      wait: (ms: number, abort?: AbortSignal) =>
        new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            abort?.removeEventListener('abort', done);
            resolve();
          };
          const timer = setTimeout(done, ms);
          woken.then(done);
          abort?.addEventListener('abort', done, { once: true });
        }),
      release: () => {
        set!.delete(wake);
        if (set!.size === 0 && this.waiters.get(deviceId) === set) this.waiters.delete(deviceId);
      },
    };
  }

  wake(deviceId: string): void {
    const set = this.waiters.get(deviceId);
    if (set) for (const wake of set) wake();
  }

  /** Wakes every waiter, so long-polls end promptly on shutdown. */
  wakeAll(): void {
    for (const set of this.waiters.values()) for (const wake of set) wake();
  }

  get waiting(): number {
    return this.waiters.size;
  }
}

export interface Waiter {
  wait(ms: number, abort?: AbortSignal): Promise<void>;
  release(): void;
}
