import { randomUUID } from 'node:crypto';
import { auditEvent, deviceActor, type AuditActor } from '../domain/audit.js';
import { notFound, ServiceError } from '../domain/errors.js';
import { hashSecret, newEnrollmentToken } from '../domain/device-secrets.js';
import type { DeviceRef, EnrollmentToken, Store } from '../store/store.js';

/** How long a rotated-away device credential keeps working: a device that lost the reply still gets in. */
export const previousCredentialGraceMs = 60 * 60_000;

export interface EnrollmentTokenRequest {
  tenantId: string;
  ttlSeconds: number;
  /** enrollments it may make; null: no limit */
  maxUses: number | null;
  description: string | null;
}

/** Creates a tenant enrollment token; only its hash is kept, the token is shown once. */
export async function createEnrollmentToken(store: Store, request: EnrollmentTokenRequest, actor: AuditActor): Promise<{ token: string; enrollmentToken: EnrollmentToken }> {
  const token = newEnrollmentToken();
  const now = Date.now();
  const enrollmentToken: EnrollmentToken = {
    id: randomUUID(),
    tenantId: request.tenantId,
    tokenHash: hashSecret(token),
    createdDateTime: new Date(now).toISOString(),
    expiresDateTime: new Date(now + request.ttlSeconds * 1000).toISOString(),
    maxUses: request.maxUses,
    uses: 0,
    revokedDateTime: null,
    description: request.description,
  };
  const details = { maxUses: request.maxUses, expiresDateTime: enrollmentToken.expiresDateTime };
  await store.createEnrollmentToken(enrollmentToken, auditEvent(request.tenantId, 'enrollmentTokenCreated', actor,
    { type: 'enrollmentToken', id: enrollmentToken.id }, { additionalDetails: details }));
  return { token, enrollmentToken };
}

export async function revokeEnrollmentToken(store: Store, tenantId: string, tokenId: string, actor: AuditActor): Promise<EnrollmentToken> {
  const revoked = await store.revokeEnrollmentToken(tenantId, tokenId,
    auditEvent(tenantId, 'enrollmentTokenRevoked', actor, { type: 'enrollmentToken', id: tokenId }));
  if (!revoked) throw notFound(`The enrollment token '${tokenId.slice(0, 64)}' does not exist.`);
  return revoked;
}

/** The admin's reset: the credential stops working and the hardware may enroll again with a token. */
export async function revokeDeviceCredential(store: Store, tenantId: string, deviceId: string, actor: AuditActor): Promise<void> {
  const revoked = await store.revokeDeviceCredential(tenantId, deviceId,
    auditEvent(tenantId, 'deviceCredentialRevoked', actor, { type: 'device', id: deviceId }));
  if (!revoked) throw notFound(`The device '${deviceId.slice(0, 64)}' does not exist.`);
}

export async function removeDevice(store: Store, tenantId: string, deviceId: string, actor: AuditActor): Promise<void> {
  const removed = await store.removeDevice(tenantId, deviceId, auditEvent(tenantId, 'deviceRemoved', actor, { type: 'device', id: deviceId }));
  if (!removed) throw notFound(`The device '${deviceId.slice(0, 64)}' does not exist.`);
}

/**
 * The device replaces its own credential. The presented one keeps working for a grace period,
 * so the device is never locked out between the rotation and its first use of the new one.
 */
export async function rotateDeviceCredential(store: Store, device: DeviceRef, presentedHash: string, newHash: string, sourceAddress: string | null): Promise<void> {
  const rotated = await store.rotateDeviceCredential(device.tenantId, device.deviceId, presentedHash, newHash,
    new Date(Date.now() + previousCredentialGraceMs).toISOString(),
    auditEvent(device.tenantId, 'deviceCredentialRotated', deviceActor(device.deviceId, sourceAddress), { type: 'device', id: device.deviceId }));
  if (!rotated) throw new ServiceError('unauthenticated', 'The device credential is no longer valid.');
}
