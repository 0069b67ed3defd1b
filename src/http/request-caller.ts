import type { FastifyInstance, FastifyRequest } from 'fastify';
import { permits, type Access } from '../auth/permissions.js';
import type { TokenVerifier } from '../auth/token-verifier.js';
import { ServiceError } from '../domain/errors.js';
import type { Caller } from '../domain/identity.js';
import type { Engine } from '../engine/engine.js';
import type { Store } from '../store/store.js';
import { checkRateLimits, type BucketRule } from './rate-limits.js';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null;
  }
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
}

/**
 * What a route needs: a permission (`read`, `write`), only a valid token (`authenticated`: a
 * `$batch`, whose requests each need their own permission and are each throttled), a device
 * credential (the agent routes check it themselves), or nothing.
 */
export type RouteAccess = Access | 'authenticated' | 'none' | 'device';

/**
 * Authenticates Graph routes before their bodies are read, so an anonymous caller learns
 * nothing from validation errors. The route's `access` says what it needs.
 */
export function installGraphAuth(app: FastifyInstance, verify: TokenVerifier, store: Store, rateLimits: BucketRule[], engine: Engine): void {
  app.decorateRequest('caller', null);
  app.addHook('onRequest', async (request) => {
    const access = request.routeOptions.config?.access;
    if (access !== 'read' && access !== 'write' && access !== 'authenticated') return;
    let verified: Caller;
    try {
      verified = await verify(request.headers.authorization);
    } catch (error) {
      if (error instanceof ServiceError && error.kind === 'unauthenticated') {
        // The token's claims are not trusted, so not even its tenant is known.
        engine.authenticationFailed(null, { type: 'anonymous', id: null, displayName: null, ipAddress: request.ip }, error.message);
      }
      throw error;
    }
    // The verified caller is cached per token; the address is this request's.
    const caller: Caller = { ...verified, sourceAddress: request.ip };
    if (access === 'authenticated') {
      request.caller = caller;
      return;
    }
    if (!permits(caller.permissions, access)) {
      const needed = access === 'read' ? 'TeamworkDevice.Read.All or TeamworkDevice.ReadWrite.All' : 'TeamworkDevice.ReadWrite.All';
      throw new ServiceError('accessDenied', `Missing permission: this request needs ${needed}.`);
    }
    if (rateLimits.length > 0) {
      const retryAfter = await checkRateLimits(store, rateLimits, caller, access);
      if (retryAfter !== null) {
        throw new ServiceError('activityLimitReached', `The application has been throttled; retry after ${retryAfter} s.`, {
          'retry-after': String(retryAfter),
        });
      }
    }
    request.caller = caller;
  });
}

export function callerOf(request: FastifyRequest): Caller {
  if (!request.caller) throw new ServiceError('unauthenticated');
  return request.caller;
}
