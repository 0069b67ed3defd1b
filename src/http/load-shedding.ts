import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { FastifyInstance } from 'fastify';
import { ServiceError } from '../domain/errors.js';
import type {} from './request-log.js';

export interface SheddingLimits {
  /** shed while the event loop's p99 delay over the last interval exceeds this */
  maxEventLoopDelayMs: number;
  /** shed while the heap uses more than this share of its limit */
  maxHeapFraction: number;
}

export const defaultSheddingLimits: SheddingLimits = { maxEventLoopDelayMs: 1000, maxHeapFraction: 0.9 };

/**
 * Load shedding: before the process runs out of event-loop time or memory, new requests get
 * a 503 with Retry-After instead of slowing everyone down or crashing. Checked twice a
 * second, so the per-request cost is one boolean.
 */
export function installLoadShedding(app: FastifyInstance, limits: SheddingLimits): void {
  const delay = monitorEventLoopDelay({ resolution: 20 });
  delay.enable();
  let overloaded: string | null = null;
  let previous: string | null = null;
  const timer = setInterval(() => {
    const p99 = delay.percentile(99) / 1e6;
    delay.reset();
    const heap = getHeapStatistics();
    const heapFraction = heap.used_heap_size / heap.heap_size_limit;
    const now =
      p99 > limits.maxEventLoopDelayMs ? `event loop delay ${Math.round(p99)} ms`
      : heapFraction > limits.maxHeapFraction ? `heap ${Math.round(heapFraction * 100)} % of its limit`
      : null;
    // Two checks in a row: one stall (a big synchronous batch, a GC) is not overload.
    overloaded = now !== null && previous !== null ? now : null;
    previous = now;
  }, 500);
  timer.unref();
  app.addHook('onClose', async () => {
    clearInterval(timer);
    delay.disable();
  });
  app.addHook('onRequest', async (request) => {
    // The probes and the scrape answer cheaply, and are how an operator sees the overload.
    if (overloaded === null || request.routeOptions.config?.probe) return;
    request.log.warn({ reason: overloaded }, 'shedding load');
    throw new ServiceError('serviceNotAvailable', 'The service is overloaded; retry after the indicated time.', { 'retry-after': '2' });
  });
}
