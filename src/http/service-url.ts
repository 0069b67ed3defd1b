import type { FastifyInstance, FastifyRequest } from 'fastify';
import type {} from './sub-requests.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** scheme://host[:port][/prefix] that clients use to reach the service; absolute links start with it */
    serviceUrl: string;
  }
}

/**
 * `request.serviceUrl`: the configured public URL (behind a proxy that terminates TLS or adds
 * a path prefix), else the scheme and host the request came with — which are X-Forwarded-Proto
 * and X-Forwarded-Host only when the socket's peer is a trusted proxy (Fastify's trustProxy).
 */
export function installServiceUrl(app: FastifyInstance, publicUrl: string | null): void {
  const fixed = publicUrl === null ? null : publicUrl.replace(/\/+$/, '');
  app.decorateRequest('serviceUrl', {
    getter(this: FastifyRequest) {
      // A batch's sub-request is reached the way its batch was (its in-process socket knows no TLS).
      return fixed ?? this.outerRequest?.serviceUrl ?? `${this.protocol}://${this.host}`;
    },
  });
}
