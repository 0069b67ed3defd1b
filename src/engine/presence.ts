import type { Logger } from 'pino';
import { isoNow, type Clock } from '../domain/clock.js';
import type { DeviceRef, Store } from '../store/store.js';
import type { DeviceReports } from './device-reports.js';
import { BackgroundLoop } from './background-loop.js';

/**
 * Remembers which agents were heard from and writes it to the store in one transaction every
 * few seconds: 10,000 long-polling devices would otherwise cost a commit per poll. Devices
 * that come back after being marked offline are reconnected at the next flush.
 */
export class Presence {
  private pending = new Map<string, DeviceRef>();
  private readonly loop: BackgroundLoop;

  constructor(
    private readonly store: Store,
    private readonly reports: DeviceReports,
    flushMs: number,
    log: Logger,
    private readonly clock: Clock,
  ) {
    this.loop = new BackgroundLoop('presence', flushMs, () => this.flush(), log);
  }

  seen(tenantId: string, deviceId: string): void {
    this.pending.set(deviceId, { tenantId, deviceId });
  }

  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    await this.flush();
  }

  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    const now = isoNow(this.clock);
    const returning = await this.store.markSeen(batch, now);
    await this.reports.setConnections(returning, 'connected', now);
  }
}
