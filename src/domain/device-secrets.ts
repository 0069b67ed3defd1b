import { createHash, randomBytes } from 'node:crypto';

/**
 * The secrets devices hold: enrollment tokens (`twd-enroll.<secret>`) and device credentials
 * (`twd-device.<deviceId>.<secret>`). Secrets are 32 random bytes, so a plain SHA-256 is
 * enough to store them; only hashes are kept, and nothing logs or audits a secret.
 */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}

export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function newEnrollmentToken(): string {
  return `twd-enroll.${newSecret()}`;
}

/** A device credential names its device, so verifying it is one lookup by primary key. */
export function deviceCredential(deviceId: string, secret: string): string {
  return `twd-device.${deviceId}.${secret}`;
}

/**
 * `Bearer twd-device.<deviceId>.<secret>` → its parts; null for anything else. The device id
 * is a copy, not a slice of the header: it is kept (as a key of the credential cache and the
 * rate limits) long after the request, and a slice would keep the whole header with it.
 */
export function parseDeviceAuthorization(authorization: string | undefined): { deviceId: string; secret: string } | null {
  const match = /^Bearer\s+twd-device\.([0-9a-f-]{36})\.([A-Za-z0-9_-]{43})\s*$/i.exec(authorization ?? '');
  return match ? { deviceId: Buffer.from(match[1].toLowerCase(), 'latin1').toString('latin1'), secret: match[2] } : null;
}
