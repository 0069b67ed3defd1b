import type { Logger } from 'pino';
import { isoNow, type Clock } from '../domain/clock.js';
import type { Store } from '../store/store.js';
import { BackgroundLoop } from './background-loop.js';
import type { DeviceReports } from './device-reports.js';
import type { EngineTimings } from './engine-timings.js';

const batch = 500;

/**
 * Expires what went silent: operations past their start or run deadline become `failed`,
 * agents past the heartbeat timeout become disconnected/offline. Each expiry is one UPDATE
 * conditional on the status it expires from (the store's own statement, not the transition
 * table's), so a late device report and the supervisor cannot both win, and several
 * supervisors (replicas) cannot fail one operation twice.
 */
export class Supervisor {
  private readonly loop: BackgroundLoop;

  constructor(
    private readonly store: Store,
    private readonly reports: DeviceReports,
    private readonly timings: EngineTimings,
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {
    this.loop = new BackgroundLoop('supervisor', timings.supervisorIntervalMs, () => this.tick(), log);
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  async tick(): Promise<void> {
    // With several replicas on one PostgreSQL only the lease holder supervises.
    if (!(await this.store.holdsSupervisorLease())) return;
    const now = isoNow(this.clock);
    const errors = {
      start: { code: 'deviceUnreachable', message: `The device did not start the operation within ${this.timings.startTimeoutMs / 1000} s.` },
      busy: { code: 'deviceBusy', message: `The device was busy (in a meeting) when the operation's start deadline passed; it was not interrupted.` },
      run: { code: 'timeout', message: `The device did not finish the operation within ${this.timings.runTimeoutMs / 1000} s.` },
    };
    for (const op of await this.store.expireOverdue(now, errors, batch)) {
      this.log.info({ operationId: op.id, deviceId: op.deviceId, code: op.error?.code }, 'operation expired');
    }
    const cutoff = new Date(this.clock.now() - this.timings.heartbeatTimeoutMs).toISOString();
    const silent = await this.store.silentDevices(cutoff, batch);
    await this.reports.setConnections(silent.map((d) => ({ tenantId: d.tenantId, deviceId: d.id })), 'disconnected', now);
    for (const device of silent) this.log.info({ deviceId: device.id }, 'device went silent: disconnected');
  }
}
