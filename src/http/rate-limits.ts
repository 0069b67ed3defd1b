import type { Caller } from '../domain/identity.js';
import type { Store } from '../store/store.js';

/** One token bucket: `capacity` requests at once, refilled at `perSecond`. */
export interface BucketRule {
  /** which callers share the bucket */
  scope: 'tenantApp' | 'app';
  access: 'read' | 'write' | 'any';
  capacity: number;
  perSecond: number;
}

/**
 * The buckets of a throttling setting (`serve --rate-limit`, parsed by the configuration):
 * N requests per second per tenant and application (burst N), or 'graph': Graph's documented
 * Teams limits, for testing clients' retry logic: 30 rps per app per tenant for GETs and for
 * other calls; across all tenants 1,500 rps per app for GETs and 300 rps for other calls.
 */
export function rateLimitRules(setting: number | 'graph' | null): BucketRule[] {
  if (setting === null) return [];
  if (setting === 'graph') {
    return [
      { scope: 'tenantApp', access: 'read', capacity: 30, perSecond: 30 },
      { scope: 'tenantApp', access: 'write', capacity: 30, perSecond: 30 },
      { scope: 'app', access: 'read', capacity: 1500, perSecond: 1500 },
      { scope: 'app', access: 'write', capacity: 300, perSecond: 300 },
    ];
  }
  return [{ scope: 'tenantApp', access: 'any', capacity: setting, perSecond: setting }];
}

/** Checks every bucket that applies; the answer is the longest wait any of them asks for. */
export async function checkRateLimits(store: Store, rules: BucketRule[], caller: Caller, access: 'read' | 'write'): Promise<number | null> {
  let retryAfter: number | null = null;
  for (const rule of rules) {
    if (rule.access !== 'any' && rule.access !== access) continue;
    const key = rule.scope === 'tenantApp' ? `${caller.tenantId}/${caller.appId}/${rule.access}` : `*/${caller.appId}/${rule.access}`;
    const wait = await store.takeRateToken(key, rule.capacity, rule.perSecond);
    if (wait !== null) retryAfter = Math.max(retryAfter ?? 0, wait);
  }
  return retryAfter;
}
