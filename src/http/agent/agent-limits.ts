import { TokenBuckets } from '../../domain/token-buckets.js';
import { ServiceError } from '../../domain/errors.js';
import { countIn } from '../open-counts.js';

/** What one device, one address and one tenant may do on the agent protocol. */
export interface AgentLimits {
  /** devices enrollment tokens may bring into one tenant */
  deviceQuota: number;
  /** enrollments per second per source address (burst of 20 s worth); null: no limit */
  enrollPerSecond: number | null;
  /** requests per second per device credential (burst of 5 s worth); null: no limit */
  devicePerSecond: number | null;
  /** long-polls one device may hold open at once: one is normal, a second covers a reconnect */
  pollsPerDevice: number;
  /** artifact downloads one device may run at once: one is normal, a second covers a reconnect */
  downloadsPerDevice: number;
  /**
   * artifact downloads this process serves at once. Each holds a file (or a database chunk)
   * besides its socket: the cap keeps a fleet updating together within the process's open
   * files (--max-connections leaves about 1,000 spare); the rest are told to retry.
   */
  downloads: number;
}

export const defaultAgentLimits: AgentLimits = {
  deviceQuota: 100_000, enrollPerSecond: 5, devicePerSecond: 10, pollsPerDevice: 2, downloadsPerDevice: 2, downloads: 500,
};

/**
 * The agent routes' limits, kept in memory by each replica: they protect the process from a
 * device or an address that misbehaves, so they need no agreement between replicas (the
 * tenant's quota, which must be exact, is the store's).
 */
export class AgentThrottle {
  private readonly buckets = new TokenBuckets();
  private readonly polls = new Map<string, number>();
  private readonly downloadsByDevice = new Map<string, number>();
  private downloads = 0;

  constructor(readonly limits: AgentLimits) {}

  enrollment(sourceAddress: string): void {
    const perSecond = this.limits.enrollPerSecond;
    if (perSecond === null) return;
    this.check(`enroll/${sourceAddress}`, perSecond * 20, perSecond, 'Too many enrollments from this address');
  }

  request(deviceId: string): void {
    const perSecond = this.limits.devicePerSecond;
    if (perSecond === null) return;
    this.check(`device/${deviceId}`, perSecond * 5, perSecond, 'Too many requests from this device');
  }

  /** Counts a long-poll in; the returned function counts it out. */
  openPoll(deviceId: string): () => void {
    const open = this.polls.get(deviceId) ?? 0;
    if (open >= this.limits.pollsPerDevice) {
      throw new ServiceError('activityLimitReached', `The device already has ${open} long-polls open; close one first.`, { 'retry-after': '1' });
    }
    return countIn(this.polls, deviceId);
  }

  /** Counts an artifact download in; the returned function counts it out (call it once). */
  openDownload(deviceId: string): () => void {
    const open = this.downloadsByDevice.get(deviceId) ?? 0;
    if (open >= this.limits.downloadsPerDevice) {
      throw new ServiceError('activityLimitReached', `The device already has ${open} downloads open; close one first.`, { 'retry-after': '1' });
    }
    if (this.downloads >= this.limits.downloads) {
      throw new ServiceError('serviceNotAvailable', `The server is serving ${this.downloads} downloads; retry after the indicated time.`, { 'retry-after': '5' });
    }
    this.downloads += 1;
    const countOut = countIn(this.downloadsByDevice, deviceId);
    return () => {
      this.downloads -= 1;
      countOut();
    };
  }

  private check(key: string, capacity: number, perSecond: number, what: string): void {
    const retryAfter = this.buckets.take(key, capacity, perSecond, Date.now());
    if (retryAfter !== null) {
      throw new ServiceError('activityLimitReached', `${what}; retry after ${retryAfter} s.`, { 'retry-after': String(retryAfter) });
    }
  }
}
