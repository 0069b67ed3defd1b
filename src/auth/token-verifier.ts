import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { ServiceError } from '../domain/errors.js';
import type { Caller } from '../domain/identity.js';
import { personalAccountTenant } from './permissions.js';

/** Asymmetric algorithms only: `none` and HMAC (which would accept a public key as a secret) are refused. */
const allowedAlgorithms = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'];

export interface VerifierOptions {
  issuer: string;
  audience: string;
  /** keys of the issuer: a local JWK set (dev issuer) or a JWKS URL (production) */
  keys: { jwks: { keys: Record<string, unknown>[] } } | { jwksUrl: string };
}

export type TokenVerifier = (authorization: string | undefined) => Promise<Caller>;

const maxCachedTokens = 10_000;
const cacheMs = 5 * 60_000;

/** Verifies `Authorization: Bearer` JWTs and turns their claims into a Caller. */
export function createTokenVerifier(options: VerifierOptions): TokenVerifier {
  const getKey: JWTVerifyGetKey =
    'jwksUrl' in options.keys
      ? createRemoteJWKSet(new URL(options.keys.jwksUrl))
      : createLocalJWKSet(options.keys.jwks as Parameters<typeof createLocalJWKSet>[0]);

  // Clients send the same token for up to an hour; verifying its signature once is enough.
  const verified = new Map<string, { caller: Caller; until: number }>();

  return async (authorization) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match) throw unauthenticated('Access token is missing.', false);
    const cached = verified.get(match[1]);
    if (cached && cached.until > Date.now()) return cached.caller;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(match[1], getKey, {
        issuer: options.issuer,
        audience: options.audience,
        algorithms: allowedAlgorithms,
        clockTolerance: 5,
        requiredClaims: ['exp', 'tid'],
      }));
    } catch (error) {
      // The identity provider's keys could not be fetched: our fault, not the token's.
      if (isKeySourceFailure(error)) {
        throw new ServiceError('serviceNotAvailable', 'The identity provider keys cannot be fetched; retry later.', { 'retry-after': '5' });
      }
      throw unauthenticated(describeJoseError(error), true);
    }
    const caller = callerFromClaims(payload);
    if (verified.size >= maxCachedTokens) verified.delete(verified.keys().next().value!);
    // Until the token expires, and at most a few minutes, so a revoked signing key stops working soon.
    verified.set(match[1], { caller, until: Math.min((payload.exp ?? 0) * 1000, Date.now() + cacheMs) });
    return caller;
  };
}

function callerFromClaims(payload: JWTPayload): Caller {
  const claims = payload as Record<string, unknown>;
  const tenantId = String(claims.tid);
  if (tenantId === personalAccountTenant) {
    throw new ServiceError('accessDenied', 'Personal Microsoft accounts are not supported by this API.');
  }
  const appId = stringClaim(claims.appid) ?? stringClaim(claims.azp) ?? 'unknown';
  if (typeof claims.scp === 'string') {
    const id = stringClaim(claims.oid) ?? stringClaim(claims.sub);
    if (!id) throw unauthenticated('The token has no oid or sub claim.', true);
    return {
      tenantId,
      kind: 'user',
      id,
      displayName: stringClaim(claims.name) ?? stringClaim(claims.upn) ?? stringClaim(claims.preferred_username),
      appId,
      permissions: new Set(claims.scp.split(' ').filter(Boolean)),
    };
  }
  const roles = Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : [];
  return {
    tenantId,
    kind: 'application',
    id: appId,
    displayName: stringClaim(claims.app_displayname),
    appId,
    permissions: new Set(roles),
  };
}

function stringClaim(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null;
}

function unauthenticated(message: string, invalid: boolean): ServiceError {
  // RFC 6750: no error code when no token was sent at all.
  const challenge = invalid
    ? `Bearer realm="teamwork-devices", error="invalid_token", error_description="${message.replace(/"/g, "'")}"`
    : 'Bearer realm="teamwork-devices"';
  return new ServiceError('unauthenticated', message, { 'www-authenticate': challenge });
}

function isKeySourceFailure(error: unknown): boolean {
  if (error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid) return true;
  if (error instanceof joseErrors.JOSEError) return /JSON Web Key Set HTTP response/i.test(error.message);
  return error instanceof TypeError || (error as { code?: string } | null)?.code === 'ECONNREFUSED';
}

function describeJoseError(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'The access token has expired.';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `The access token's '${error.claim}' claim is invalid.`;
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'The access token is signed with an algorithm that is not allowed.';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'The access token signature is invalid.';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'The access token is signed with an unknown key.';
  return 'The access token is malformed or invalid.';
}
