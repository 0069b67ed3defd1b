import { timingSafeEqual } from 'node:crypto';
import type { AuditActor } from '../domain/audit.js';
import { hashSecret, parseDeviceAuthorization } from '../domain/device-secrets.js';
import { ServiceError } from '../domain/errors.js';
import type { Store, StoredCredential } from '../store/store.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** the device a device credential proved (the agent routes), else null */
    device: DeviceCaller | null;
  }
}

export interface DeviceCaller {
  tenantId: string;
  deviceId: string;
  /** hash of the credential presented, for a rotation to name the one it replaces */
  credentialHash: string;
}

/** Told of every credential that did not verify (the audit log counts them). */
export type CredentialFailure = (tenantId: string | null, actor: AuditActor, reason: string) => void;

/**
 * Verifies `Authorization: Bearer twd-device.<deviceId>.<secret>`. Stored hashes are cached
 * for a short while so 10,000 long-polling devices do not cost a query per poll; a revoked,
 * rotated or re-enrolled device's old credential stops working at once on this replica
 * (forget()), and within `cacheMs` on others, whose new credential works there within a second.
 */
export class DeviceCredentialVerifier {
  private readonly cache = new Map<string, { stored: StoredCredential | null; loadedAt: number }>();

  constructor(
    private readonly store: Store,
    private readonly onFailure: CredentialFailure,
    private readonly cacheMs = 30_000,
  ) {}

  /**
   * The caller's device, or a 401. The source address is asked for only when the credential
   * fails (for the audit log): reading a socket's peer makes Node keep it on the socket, which
   * a fleet of long-polling devices would pay for on every connection.
   */
  async verify(authorization: string | undefined, sourceAddress: () => string | null): Promise<DeviceCaller> {
    const parts = parseDeviceAuthorization(authorization);
    if (!parts) {
      this.onFailure(null, { type: 'anonymous', id: null, displayName: null, ipAddress: sourceAddress() }, 'malformed or missing device credential');
      throw unauthenticated();
    }
    const now = Date.now();
    const presented = hashSecret(parts.secret);
    let entry = this.cache.get(parts.deviceId);
    if (!entry || now - entry.loadedAt > this.cacheMs) entry = await this.load(parts.deviceId, now);
    // A refusal from a copy over a second old is checked against the store once more: another
    // replica may have enrolled or rotated the device since. At most one query per device a second.
    if (!accepts(entry.stored, presented, now) && now - entry.loadedAt > 1000) entry = await this.load(parts.deviceId, now);
    const { stored } = entry;
    if (!stored || !accepts(stored, presented, now)) {
      const actor: AuditActor = { type: 'device', id: parts.deviceId, displayName: null, ipAddress: sourceAddress() };
      this.onFailure(stored?.tenantId ?? null, actor, stored ? 'wrong device credential' : 'unknown or revoked device');
      throw unauthenticated();
    }
    return { tenantId: stored.tenantId, deviceId: parts.deviceId, credentialHash: presented };
  }

  forget(deviceId: string): void {
    this.cache.delete(deviceId);
  }

  /** Unknown devices are kept too, so a flood of made-up ids costs one query per id and cache period. */
  private async load(deviceId: string, now: number): Promise<{ stored: StoredCredential | null; loadedAt: number }> {
    const entry = { stored: await this.store.deviceCredential(deviceId), loadedAt: now };
    if (this.cache.size >= 100_000 && !this.cache.has(deviceId)) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(deviceId, entry);
    return entry;
  }
}

/** The presented hash is the current credential, or the previous one within its grace period. */
function accepts(stored: StoredCredential | null, presented: string, now: number): boolean {
  if (!stored) return false;
  if (sameHash(presented, stored.credentialHash)) return true;
  return stored.previousCredentialHash !== null && stored.previousUntil !== null && Date.parse(stored.previousUntil) > now
    && sameHash(presented, stored.previousCredentialHash);
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function unauthenticated(): ServiceError {
  return new ServiceError('unauthenticated', 'A valid device credential is required.', {
    'www-authenticate': 'Bearer realm="teamwork-devices-agent", error="invalid_token"',
  });
}
