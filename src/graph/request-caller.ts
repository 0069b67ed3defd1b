import type { FastifyInstance, FastifyRequest } from 'fastify';
import { permits, type Access } from '../auth/permissions.js';
import type { TokenVerifier } from '../auth/token-verifier.js';
import { ServiceError } from '../domain/errors.js';
import type { Caller } from '../domain/identity.js';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null;
  }
  interface FastifyContextConfig {
    access?: Access | 'none' | 'device';
  }
}

/**
 * Authenticates Graph routes before their bodies are read, so an anonymous caller learns
 * nothing from validation errors. The route's `access` says what it needs.
 */
export function installGraphAuth(app: FastifyInstance, verify: TokenVerifier): void {
  app.decorateRequest('caller', null);
  app.addHook('onRequest', async (request) => {
    const access = request.routeOptions.config?.access;
    if (access !== 'read' && access !== 'write') return;
    const caller = await verify(request.headers.authorization);
    if (!permits(caller.permissions, access)) {
      const needed = access === 'read' ? 'TeamworkDevice.Read.All or TeamworkDevice.ReadWrite.All' : 'TeamworkDevice.ReadWrite.All';
      throw new ServiceError('accessDenied', `Missing permission: this request needs ${needed}.`);
    }
    request.caller = caller;
  });
}

export function callerOf(request: FastifyRequest): Caller {
  if (!request.caller) throw new ServiceError('unauthenticated');
  return request.caller;
}
