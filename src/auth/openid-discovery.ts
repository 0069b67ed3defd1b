import type { JWTVerifyGetKey } from 'jose';
import { KeySourceUnavailableError, keyUrlProblem, remoteKeySet } from './key-sources.js';

/** The parts of an OpenID provider's discovery document the service uses. */
export interface DiscoveryDocument {
  jwksUri: string;
  /** where the console sends a browser to sign in (authorization-code flow) */
  authorizationEndpoint: string | null;
  /** where the console trades the code for a token */
  tokenEndpoint: string | null;
}

/**
 * Reads `{issuer}/.well-known/openid-configuration`. Every endpoint in it must be as safe to
 * use as a key URL (https, or plain http to loopback only): a token endpoint fetched over
 * plain http would hand the code and the token to whoever is on the path.
 */
export async function readDiscoveryDocument(issuer: string): Promise<DiscoveryDocument> {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  let document: { issuer?: unknown; jwks_uri?: unknown; authorization_endpoint?: unknown; token_endpoint?: unknown };
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5000), headers: { accept: 'application/json' } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    document = (await response.json()) as typeof document;
  } catch (error) {
    throw new KeySourceUnavailableError(`The discovery document ${url} cannot be read: ${(error as Error).message}`);
  }
  // OpenID Connect Discovery 1.0 §4.3: a document naming another issuer must not be used.
  if (document.issuer !== issuer) throw new KeySourceUnavailableError(`The discovery document ${url} names another issuer`);
  const endpoint = (name: 'jwks_uri' | 'authorization_endpoint' | 'token_endpoint'): string | null => {
    const value = document[name];
    if (value === undefined && name !== 'jwks_uri') return null;
    const text = typeof value === 'string' ? value : '';
    const problem = keyUrlProblem(text);
    if (problem) throw new KeySourceUnavailableError(`The discovery document's ${name} ${problem}`);
    return text;
  };
  return { jwksUri: endpoint('jwks_uri')!, authorizationEndpoint: endpoint('authorization_endpoint'), tokenEndpoint: endpoint('token_endpoint') };
}

/**
 * The keys of an OpenID provider found through its discovery document
 * (`{issuer}/.well-known/openid-configuration`), read on first use and again after a failure.
 */
export function discoveredKeySet(issuer: string, cooldownMs: number): JWTVerifyGetKey {
  let keys: Promise<JWTVerifyGetKey> | null = null;
  return async (header, token) => {
    keys ??= readDiscoveryDocument(issuer).then(
      (document) => remoteKeySet(document.jwksUri, cooldownMs),
      (error: unknown) => {
        keys = null;
        throw error;
      },
    );
    return (await keys)(header, token);
  };
}
