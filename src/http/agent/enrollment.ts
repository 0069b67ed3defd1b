import { randomBytes, randomUUID } from 'node:crypto';
import type { Engine } from '../../engine/engine.js';
import type { Store } from '../../store/store.js';
import type { EnrollRequest } from '../../domain/agent-protocol.js';
import { deviceCredential, hashSecret, newSecret, type DeviceCredentialVerifier } from './device-credentials.js';

/** Creates a tenant enrollment token; only its hash is kept, the token is shown once. */
export async function createEnrollmentToken(store: Store, tenantId: string, ttlSeconds: number): Promise<{ token: string; expiresDateTime: string }> {
  const token = `twd-enroll.${randomBytes(32).toString('base64url')}`;
  const now = Date.now();
  const expiresDateTime = new Date(now + ttlSeconds * 1000).toISOString();
  await store.createEnrollmentToken({
    id: randomUUID(),
    tenantId,
    tokenHash: hashSecret(token),
    createdDateTime: new Date(now).toISOString(),
    expiresDateTime,
  });
  return { token, expiresDateTime };
}

export interface Enrollment {
  tenantId: string;
  deviceId: string;
  credential: string;
  reenrolled: boolean;
}

/**
 * Enrolls a device and issues its credential (the engine keeps only the secret's hash); the
 * old credential of re-enrolled hardware stops working at once on this replica.
 */
export async function enrollDevice(engine: Engine, credentials: DeviceCredentialVerifier, request: EnrollRequest): Promise<Enrollment> {
  const { enrollmentToken, ...device } = request;
  const secret = newSecret();
  const enrolled = await engine.enroll({ ...device, enrollmentTokenHash: hashSecret(enrollmentToken), credentialHash: hashSecret(secret) });
  credentials.forget(enrolled.deviceId);
  return { ...enrolled, credential: deviceCredential(enrolled.deviceId, secret) };
}
