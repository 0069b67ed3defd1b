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

/**
 * The keys of an OpenID provider found through its discovery document
 * (`{issuer}/.well-known/openid-configuration`), read on first use and again after a failure.
 */
export function discoveredKeySet(issuer: string, cooldownMs: number): JWTVerifyGetKey {
  let keys: Promise<JWTVerifyGetKey> | null = null;
  return async (header, token) => {
    keys ??= discoverJwksUri(issuer).then(
      (uri) => remoteKeySet(uri, cooldownMs),
      (error: unknown) => {
        keys = null;
        throw error;
      },
    );
    return (await keys)(header, token);
  };
}

async function discoverJwksUri(issuer: string): Promise<string> {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  let document: { issuer?: unknown; jwks_uri?: unknown };
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5000), headers: { accept: 'application/json' } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    document = (await response.json()) as typeof document;
  } catch (error) {
    throw new KeySourceUnavailableError(`The discovery document ${url} cannot be read: ${(error as Error).message}`);
  }
  // OpenID Connect Discovery 1.0 §4.3: a document naming another issuer must not be used.
  if (document.issuer !== issuer) throw new KeySourceUnavailableError(`The discovery document ${url} names another issuer`);
  const jwksUri = typeof document.jwks_uri === 'string' ? document.jwks_uri : '';
  const problem = keyUrlProblem(jwksUri);
  if (problem) throw new KeySourceUnavailableError(`The discovery document's jwks_uri ${problem}`);
  return jwksUri;
}
