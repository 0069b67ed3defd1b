import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { ServiceError } from '../domain/errors.js';
import type {} from './request-log.js';
import type {} from './sub-requests.js';
import type { ServiceMetrics } from './service-metrics.js';

export const metricsPath = '/metrics';

/** `--metrics-auth user:password`, split. */
export interface BasicCredentials {
  user: string;
  password: string;
}

/** Parses `user:password` (the password may contain colons); null when the user is empty or there is no colon. */
export function parseBasicCredentials(text: string): BasicCredentials | null {
  const colon = text.indexOf(':');
  if (colon < 1) return null;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/**
 * `GET /metrics` in Prometheus' text format. With credentials, a scrape must present them
 * (HTTP basic auth, compared in constant time); without, whoever reaches the listener may
 * scrape (the composition root decides when that is allowed).
 */
export function addMetricsRoute(app: FastifyInstance, metrics: ServiceMetrics, credentials: BasicCredentials | null): void {
  const expected = credentials ? digest(`${credentials.user}:${credentials.password}`) : null;
  app.get(metricsPath, { config: { access: 'none', probe: true, batchable: false } }, async (request, reply) => {
    if (expected && !timingSafeEqual(digest(presentedCredentials(request.headers.authorization)), expected)) {
      throw new ServiceError('unauthenticated', 'The metrics need HTTP basic authentication.', { 'www-authenticate': 'Basic realm="metrics", charset="UTF-8"' });
    }
    const { contentType, text } = await metrics.scrape();
    return reply.type(contentType).send(text);
  });
}

/** `user:password` of a Basic authorization header, or '' (which never matches: the user is never empty). */
function presentedCredentials(header: string | undefined): string {
  const match = /^basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  return match ? Buffer.from(match[1], 'base64').toString('utf8') : '';
}

/** Fixed-length digests, so timingSafeEqual compares any two inputs and their lengths leak nothing. */
function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
