/**
 * Wakes long-polling devices when work for them appears. A poll's waiter is registered before
 * each look in the store (`arm`), then waits: an operation created between the look and the
 * wait still wakes the poll. This is the in-process signal; with PostgreSQL, notifications
 * from other replicas arrive through `wake` as well.
 *
 * A replica holds one waiter per connected device, so a waiter is one small object: no
 * AbortController, no closures, no Set per device (a device holds one poll, two only while it
 * reconnects).
 */
export class WorkSignal {
  private readonly waiters = new Map<string, PollWaiter | PollWaiter[]>();

  /** A waiter for one long-poll of the device, registered until `release`. */
  register(tenantId: string, deviceId: string): PollWaiter {
    const waiter = new PollWaiter(tenantId, deviceId, this);
    const present = this.waiters.get(deviceId);
    if (present === undefined) this.waiters.set(deviceId, waiter);
    else if (Array.isArray(present)) present.push(waiter);
    else this.waiters.set(deviceId, [present, waiter]);
    return waiter;
  }

  wake(deviceId: string): void {
    const present = this.waiters.get(deviceId);
    if (present === undefined) return;
    if (Array.isArray(present)) for (const waiter of present) waiter.wake();
    else present.wake();
  }

  /** Wakes every waiter, so long-polls end promptly on shutdown. */
  wakeAll(): void {
    for (const present of this.waiters.values()) {
      if (Array.isArray(present)) for (const waiter of present) waiter.wake();
      else present.wake();
    }
  }

  /** Devices with a long-poll registered. */
  get waiting(): number {
    return this.waiters.size;
  }

  /** Called by the waiter's release. */
  remove(waiter: PollWaiter): void {
    const present = this.waiters.get(waiter.deviceId);
    if (present === waiter) this.waiters.delete(waiter.deviceId);
    else if (Array.isArray(present)) {
      const rest = present.filter((w) => w !== waiter);
      if (rest.length !== present.length) this.waiters.set(waiter.deviceId, rest.length === 1 ? rest[0] : rest);
    }
  }
}

/**
 * One long-poll's wait. `arm` before each look in the store; `wait` resolves when work is
 * signalled (since the last arm), the time is up, or the poll is ended (the device hung up,
 * or the engine stops). The timer is Node's own (timers of one duration share a list), with
 * the waiter as its argument rather than a closure.
 */
export class PollWaiter {
  /** set once the device hung up or the engine stopped: the poll ends with no work */
  ended = false;
  private woken = false;
  private resolve: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private released = false;

  constructor(
    readonly tenantId: string,
    readonly deviceId: string,
    private readonly signal: WorkSignal,
  ) {}

  /** Forgets earlier signals: call before each look in the store. */
  arm(): void {
    this.woken = false;
  }

  /** Resolves when signalled since the last `arm`, after `ms`, or when ended. */
  wait(ms: number): Promise<void> {
    if (this.woken || this.ended || this.released || ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.resolve = resolve;
      this.timer = setTimeout(wakeWaiter, ms, this);
    });
  }

  /** Work may be there: a wait in progress ends, and the next one (until `arm`) does not start. */
  wake(): void {
    this.woken = true;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const resolve = this.resolve;
    this.resolve = null;
    resolve?.();
  }

  /** The device hung up (or the engine stops): the poll ends with no work, at once. */
  end(): void {
    this.ended = true;
    this.wake();
  }

  /** Unregisters the waiter; it is never woken again. Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.wake();
    this.signal.remove(this);
  }
}

function wakeWaiter(waiter: PollWaiter): void {
  waiter.wake();
}
