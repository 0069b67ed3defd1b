import type { FastifyRequest } from 'fastify';
import { badRequest, ServiceError } from '../../domain/errors.js';
import { errorSubResponse, runSubRequest, type SubResponse } from '../sub-requests.js';
import type { RouteTable } from '../route-table.js';
import { batchBodySchema, parseBatch, type BatchStep } from './batch-request.js';

/**
 * Requests of one batch in flight at once: independent reads finish sooner side by side, and on
 * PostgreSQL the device reads started together become one statement (device-reads.ts).
 */
const maxConcurrentPerBatch = 8;
/**
 * Requests of all batches in flight at once, below the default PostgreSQL pool (10): however
 * many batches arrive, their queries do not pile up waiting for pool connections, and direct
 * requests still find a free one. (SQLite reads are synchronous; there the bound costs nothing.)
 */
const maxConcurrentInAllBatches = 8;

/**
 * Reply headers that describe the batch's own HTTP reply, not a request inside it: framing,
 * and what tells a browser how to treat the reply it received (the batch carries those).
 */
const outerOnlyHeaders = new Set(['content-length', 'connection', 'keep-alive', 'transfer-encoding', 'date', 'strict-transport-security', 'x-content-type-options']);

/**
 * Graph's JSON batching: `POST /$batch` (and `/beta/$batch`) runs up to 20 requests and answers
 * 200 with `{"responses":[{id, status, headers, body?}]}` in the order they were sent. Every
 * request goes through the same pipeline as a direct one (`runSubRequest`): permissions,
 * throttling, validation and errors are each request's. The batch itself needs only a valid
 * token: a missing or invalid one is a 401 for the whole batch, as Graph answers it.
 */
export function addBatchRoutes(routes: RouteTable): void {
  const allBatches = new Slots(maxConcurrentInAllBatches);
  routes.add('POST', ['/$batch'], 'authenticated', async (request, reply) => {
    if (request.outerRequest) throw badRequest('A $batch request cannot be part of a batch: batches cannot be nested.');
    const version = /^\/beta\//i.test(request.routeOptions.url ?? '') ? '/beta' : '';
    const steps = parseBatch(request.body as { requests: unknown[] }, version);
    const results = await runSteps(request, steps, allBatches);
    const responses = steps.map((step, i) => batchResponse(step.id, results[i]));
    return reply.type('application/json; charset=utf-8').send(`{"responses":[${responses.join(',')}]}`);
  }, { body: batchBodySchema });
}

/**
 * Runs each step once all it depends on have finished, at most `maxConcurrentPerBatch` at a
 * time and within the slots all batches share. A step whose dependency failed (status 400 or
 * more, a 424 included) is not run: 424. parseBatch refused cycles, so the waits end.
 */
function runSteps(request: FastifyRequest, steps: BatchStep[], allBatches: Slots): Promise<SubResponse[]> {
  const slots = new Slots(maxConcurrentPerBatch);
  const runs: Array<Promise<SubResponse> | undefined> = [];
  const run = (i: number): Promise<SubResponse> => {
    runs[i] ??= (async () => {
      const step = steps[i];
      const dependencies = await Promise.all(step.dependsOn.map((j) => run(j)));
      const failed = dependencies.findIndex((response) => response.status >= 400);
      if (failed >= 0) {
        const dependency = steps[step.dependsOn[failed]];
        const message = `The request was not run: it depends on '${String(dependency.id).slice(0, 64)}', which failed with status ${dependencies[failed].status}.`;
        return errorSubResponse(request, new ServiceError('failedDependency', message), step.request.headers);
      }
      // A shared slot is taken only while a request runs, never while it waits: no batch holds one idle.
      return slots.use(() => allBatches.use(() => runSubRequest(request.server, request, step.request)));
    })();
    return runs[i];
  };
  return Promise.all(steps.map((_, i) => run(i)));
}

/**
 * One entry of `responses`, as JSON text. A reply without a body (a 202, a 204) has no `body`.
 * A JSON reply goes in as the text the route sent: every JSON reply of this service is
 * serialised by Fastify from a value, so it is JSON, and parsing and serialising it again would
 * cost a batch about as much as it saves. Any other body is base64, as Graph documents for
 * bodies that are not JSON.
 */
function batchResponse(id: string | number, response: SubResponse): string {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers)) {
    if (!outerOnlyHeaders.has(name)) headers[graphHeaderName(name)] = value;
  }
  const head = `{"id":${JSON.stringify(id)},"status":${response.status},"headers":${JSON.stringify(headers)}`;
  if (response.payload.length === 0) return `${head}}`;
  const json = /^application\/json/i.test(response.headers['content-type'] ?? '');
  const body = json ? response.payload.toString('utf8') : JSON.stringify(response.payload.toString('base64'));
  return `${head},"body":${body}}`;
}

/**
 * Header names as Graph spells them in a batch (`Content-Type`, `Location`, `Retry-After`;
 * `request-id` and `client-request-id` in lower case). Clients look them up by that spelling:
 * the Graph JavaScript client's BatchResponseContent reads `headers["Content-Type"]` to decide
 * whether a body is JSON.
 */
function graphHeaderName(name: string): string {
  let spelled = headerSpellings.get(name);
  if (spelled === undefined) {
    spelled = name === 'request-id' || name === 'client-request-id' ? name
      : name === 'www-authenticate' ? 'WWW-Authenticate'
      : name.replace(/(^|-)([a-z])/g, (_match, dash: string, letter: string) => dash + letter.toUpperCase());
    // The service sends a handful of header names; a client's own cannot reach this map.
    if (headerSpellings.size < 100) headerSpellings.set(name, spelled);
  }
  return spelled;
}

const headerSpellings = new Map<string, string>();

/** A counting semaphore: callers beyond the limit wait, first come first served. */
class Slots {
  private readonly waiting: Array<() => void> = [];

  constructor(private free: number) {}

  async use<T>(task: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free -= 1;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free += 1;
    }
  }
}
