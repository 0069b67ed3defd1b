import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ServiceError } from '../domain/errors.js';
import type {} from './request-log.js';
import type {} from './sub-requests.js';
import type { Store } from '../store/store.js';
import { StoreUnavailableError } from '../store/store-errors.js';

export const healthPaths = { live: '/healthz', ready: '/readyz' } as const;

/** How long the readiness probe waits for the database: well within a probe's usual 1 s timeout. */
export const readyTimeoutMs = 800;
/** Seconds a load balancer is asked to wait before probing an unready server again. */
const notReadyRetrySeconds = 5;

/**
 * The probes of load balancers and Kubernetes, beside the API (no token, no version prefix,
 * never throttled or shed). `/healthz`: the process answers, nothing else is asked. `/readyz`:
 * the database answers within `readyTimeoutMs` with every migration applied; while the server
 * shuts down the edge answers it (like every request) with a 503.
 */
export function addHealthRoutes(app: FastifyInstance, store: Store, log: Logger | null): void {
  const config = { access: 'none', probe: true, batchable: false } as const;
  app.get(healthPaths.live, { config }, async () => ({ status: 'ok' }));
  app.get(healthPaths.ready, { config }, async () => {
    try {
      await store.monitor.checkReady(readyTimeoutMs);
    } catch (error) {
      if (!(error instanceof StoreUnavailableError)) throw error;
      // The reason (a host name, a driver's message) is for the operator's log, not for anyone who can reach the port.
      log?.warn({ reason: error.reason }, 'not ready');
      throw new ServiceError('serviceNotAvailable', 'Not ready: the database is unavailable or not migrated.', {
        'retry-after': String(notReadyRetrySeconds),
      });
    }
    return { status: 'ready' };
  });
}
