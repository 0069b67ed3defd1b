import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ServiceError } from '../../domain/errors.js';
import type { Store } from '../../store/store.js';

const prefix = 'twd-device';

export interface DeviceCaller {
  tenantId: string;
  deviceId: string;
}

/** Secrets are 32 random bytes, so a plain SHA-256 is enough; only the hash is stored. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}

export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** A device credential names its device, so verifying it is one lookup by primary key. */
export function deviceCredential(deviceId: string, secret: string): string {
  return `${prefix}.${deviceId}.${secret}`;
}

/**
 * Verifies `Authorization: Bearer twd-device.<deviceId>.<secret>`. Verified hashes are cached
 * for a short while so 10,000 long-polling devices do not cost a query per poll; a re-enrolled
 * device's old credential stops working within `cacheMs` on other replicas, at once on this one.
 */
export class DeviceCredentialVerifier {
  private readonly cache = new Map<string, { tenantId: string; hash: string; until: number }>();

  constructor(
    private readonly store: Store,
    private readonly cacheMs = 30_000,
  ) {}

  async verify(authorization: string | undefined): Promise<DeviceCaller> {
    const match = /^Bearer\s+twd-device\.([0-9a-f-]{36})\.([A-Za-z0-9_-]{43})\s*$/i.exec(authorization ?? '');
    if (!match) throw unauthenticated();
    const [, deviceId, secret] = match;
    const now = Date.now();
    let entry = this.cache.get(deviceId);
    if (!entry || entry.until < now) {
      const stored = await this.store.deviceCredential(deviceId);
      if (!stored) throw unauthenticated();
      entry = { tenantId: stored.tenantId, hash: stored.credentialHash, until: now + this.cacheMs };
      this.cache.set(deviceId, entry);
    }
    const presented = Buffer.from(hashSecret(secret));
    const expected = Buffer.from(entry.hash);
    if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) throw unauthenticated();
    return { tenantId: entry.tenantId, deviceId };
  }

  forget(deviceId: string): void {
    this.cache.delete(deviceId);
  }
}

function unauthenticated(): ServiceError {
  return new ServiceError('unauthenticated', 'A valid device credential is required.', {
    'www-authenticate': 'Bearer realm="teamwork-devices-agent", error="invalid_token"',
  });
}
