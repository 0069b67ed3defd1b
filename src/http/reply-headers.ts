import type { FastifyRequest } from 'fastify';

/**
 * Headers on every reply, error replies and the raw socket answers included: browsers must not
 * guess a JSON body's type, nothing may keep an API reply (it can hold device details and is
 * fetched with a bearer token), and a client that reached us over https keeps to https.
 */
export function securityHeaders(https: boolean): Record<string, string> {
  return {
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
    ...(https ? { 'strict-transport-security': 'max-age=31536000' } : {}),
  };
}

/** The headers above for a routed request; https is the socket's, or a trusted proxy's X-Forwarded-Proto. */
export function securityHeadersFor(request: FastifyRequest): Record<string, string> {
  return securityHeaders(request.protocol === 'https');
}
