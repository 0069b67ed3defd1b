import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import { isLoopbackHost } from '../domain/loopback-host.js';

/** The identity provider's keys (or its discovery document) cannot be had: a 503, never a 401. */
export class KeySourceUnavailableError extends Error {}

/**
 * Why a key URL must not be used, or null. Keys fetched over plain http could be swapped by
 * anyone on the path, and then any token they sign is accepted.
 */
export function keyUrlProblem(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `'${url}' is not a URL`;
  }
  if (parsed.protocol === 'https:') return null;
  if (parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname)) return null;
  return `'${url}' must be https (plain http only to 127.0.0.1, ::1 or localhost)`;
}

/**
 * A JWKS URL's keys. jose refetches the set when a token names a kid it does not hold (the
 * provider rolled its keys), but at most once per cooldown, so tokens with made-up kids cannot
 * make us hammer the provider.
 */
export function remoteKeySet(url: string, cooldownMs: number): JWTVerifyGetKey {
  return createRemoteJWKSet(new URL(url), { cooldownDuration: cooldownMs });
}
