import { decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { ServiceError } from '../domain/errors.js';
import type { Caller } from '../domain/identity.js';
import { StoreUnavailableError } from '../store/store-errors.js';
import { KeySourceUnavailableError } from './key-sources.js';
import { personalAccountTenant } from './permissions.js';
import { clockToleranceSeconds, maxTokenLifetimeSeconds } from './token-lifetime.js';

/** Asymmetric algorithms only: `none` and HMAC (which would accept a public key as a secret) are refused. */
const allowedAlgorithms = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'];

/** One `iss` value this service accepts tokens from, and what a token of it must carry. */
export interface TrustedIssuer {
  issuer: string;
  /** any one of these is accepted as `aud` (Entra: the API's client id and its App ID URI) */
  audiences: string[];
  getKey: JWTVerifyGetKey;
  /** the tenant the issuer speaks for (Entra's tenant-specific issuers): `tid` must be this one */
  tenant?: string;
  /** the caller's tenant when the token has no `tid`; without it, `tid` is required */
  defaultTenant?: string;
}

export type TokenVerifier = (authorization: string | undefined) => Promise<Caller>;

const maxCachedTokens = 10_000;
const cacheMs = 5 * 60_000;
const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Verifies `Authorization: Bearer` JWTs of the trusted issuers and turns their claims into a Caller. */
export function createTokenVerifier(trusted: TrustedIssuer[]): TokenVerifier {
  const byIssuer = new Map(trusted.map((entry) => [entry.issuer, entry]));

  // Clients send the same token for up to an hour; verifying its signature once is enough.
  const verified = new Map<string, { caller: Caller; until: number }>();

  return async (authorization) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match) throw unauthenticated('Access token is missing.', false);
    const cached = verified.get(match[1]);
    if (cached && cached.until > Date.now()) return cached.caller;
    // The unverified `iss` only picks which keys and rules apply; jwtVerify checks it again.
    const entry = byIssuer.get(unverifiedIssuer(match[1]));
    if (!entry) throw unauthenticated('The access token is not from a trusted issuer.', true);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(match[1], entry.getKey, {
        issuer: entry.issuer,
        audience: entry.audiences,
        algorithms: allowedAlgorithms,
        clockTolerance: clockToleranceSeconds,
        requiredClaims: ['exp'],
      }));
    } catch (error) {
      if (error instanceof StoreUnavailableError) throw error;
      // The identity provider's keys could not be fetched: our fault, not the token's.
      if (isKeySourceFailure(error)) {
        throw new ServiceError('serviceNotAvailable', 'The identity provider keys cannot be fetched; retry later.', { 'retry-after': '5' });
      }
      throw unauthenticated(describeJoseError(error), true);
    }
    checkLifetime(payload);
    const caller = callerFromClaims(payload, tenantOf(payload, entry));
    if (verified.size >= maxCachedTokens) verified.delete(verified.keys().next().value!);
    // Until the token expires, and at most a few minutes, so a revoked signing key stops working soon.
    verified.set(match[1], { caller, until: Math.min((payload.exp ?? 0) * 1000, Date.now() + cacheMs) });
    return caller;
  };
}

function unverifiedIssuer(token: string): string {
  try {
    const { iss } = decodeJwt(token);
    return typeof iss === 'string' ? iss : '';
  } catch {
    throw unauthenticated('The access token is malformed or invalid.', true);
  }
}

/** A stolen token is a risk for as long as it lives: one meant to live for days is refused outright. */
function checkLifetime(payload: JWTPayload): void {
  const start = payload.iat ?? payload.nbf;
  if (typeof start !== 'number') throw unauthenticated("The access token has no 'iat' claim.", true);
  if ((payload.exp ?? 0) - start > maxTokenLifetimeSeconds) {
    throw unauthenticated(`The access token lives longer than ${maxTokenLifetimeSeconds / 3600} hours.`, true);
  }
}

/** The caller's tenant: `tid`, a GUID, and the issuer's own tenant when the issuer names one. */
function tenantOf(payload: JWTPayload, entry: TrustedIssuer): string {
  const tid = (payload as { tid?: unknown }).tid;
  if (tid === undefined && entry.defaultTenant !== undefined) return entry.defaultTenant;
  if (tid === undefined) throw unauthenticated("The access token has no 'tid' claim.", true);
  if (typeof tid !== 'string' || !guid.test(tid)) throw unauthenticated("The access token's 'tid' claim is not a GUID.", true);
  // Entra's common key set signs for every tenant: a token of one tenant must not pass as another's.
  if (entry.tenant !== undefined && tid.toLowerCase() !== entry.tenant.toLowerCase()) {
    throw unauthenticated("The access token's 'tid' claim does not match its issuer.", true);
  }
  return tid;
}

/** v1.0 and v2.0 claims alike: v1 names the app `appid` and the user `upn`, v2 `azp` and `preferred_username`. */
function callerFromClaims(payload: JWTPayload, tenantId: string): Caller {
  const claims = payload as Record<string, unknown>;
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
      displayName: stringClaim(claims.name) ?? stringClaim(claims.upn) ?? stringClaim(claims.preferred_username) ?? stringClaim(claims.unique_name),
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
  if (error instanceof KeySourceUnavailableError) return true;
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
