import type { EnrollRequest } from '../../domain/agent-protocol.js';
import { deviceCredential, hashSecret, newSecret } from '../../domain/device-secrets.js';
import { ServiceError } from '../../domain/errors.js';
import type { Engine } from '../../engine/engine.js';
import type { DeviceCaller, DeviceCredentialVerifier } from '../device-credentials.js';

export interface Enrollment {
  tenantId: string;
  deviceId: string;
  credential: string;
  reenrolled: boolean;
}

export interface EnrollmentContext {
  authorization: string | undefined;
  sourceAddress: string | null;
  deviceQuota: number;
}

/**
 * Enrolls a device and issues its credential (the engine keeps only the secret's hash). A
 * device credential in `Authorization` must verify (a wrong one is a 401, not a fallback to
 * the token); the old credential of a re-enrolled device stops working at once on this replica.
 */
export async function enrollDevice(engine: Engine, credentials: DeviceCredentialVerifier, request: EnrollRequest, context: EnrollmentContext): Promise<Enrollment> {
  const { enrollmentToken, ...device } = request;
  let credentialOf: DeviceCaller | null = null;
  if (context.authorization !== undefined) credentialOf = await credentials.verify(context.authorization, () => context.sourceAddress);
  else if (!enrollmentToken) throw new ServiceError('unauthenticated', 'An enrollment token or the device\'s credential is required.');
  const secret = newSecret();
  const enrolled = await engine.enroll({
    ...device,
    enrollmentTokenHash: enrollmentToken ? hashSecret(enrollmentToken) : null,
    credentialOf: credentialOf && { tenantId: credentialOf.tenantId, deviceId: credentialOf.deviceId },
    credentialHash: hashSecret(secret),
    sourceAddress: context.sourceAddress,
    deviceQuota: context.deviceQuota,
  });
  credentials.forget(enrolled.deviceId);
  return { ...enrolled, credential: deviceCredential(enrolled.deviceId, secret) };
}
