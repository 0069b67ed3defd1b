import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest, HTTPMethods } from 'fastify';
import { notFound, ServiceError } from '../domain/errors.js';
import { clientRequestIdOf, graphErrorBody, newRequestId, safeClientRequestId } from './edge.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** the `$batch` request this one is a sub-request of; null for a request from the network */
    outerRequest: FastifyRequest | null;
  }
  interface FastifyContextConfig {
    /** false: not part of the Graph API (the agent protocol), so a `$batch` does not reach it */
    batchable?: boolean;
  }
}

/** One request of a batch, ready to run: the path carries the version and the query, encoded. */
export interface SubRequest {
  method: string;
  path: string;
  /** lower-case names */
  headers: Record<string, string>;
  payload?: string | Buffer;
}

export interface SubResponse {
  status: number;
  /** lower-case names */
  headers: Record<string, string>;
  payload: Buffer;
}

/**
 * Carries the key of a sub-request's origin. A key names a live entry of `origins` only while
 * its sub-request runs, and is never sent anywhere, so a client cannot make a request of its
 * own pass for a sub-request by sending this header.
 */
const originHeader = 'twd-batch-origin';
const origins = new Map<string, FastifyRequest>();

/**
 * Headers that belong to the batch's connection and caller, not to one of its requests: the
 * batch's own stand for every sub-request, or none does (framing is inject's business).
 */
const batchOwnedHeaders = new Set([
  'authorization', 'host', 'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port',
  'x-real-ip', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect',
  'proxy-authorization', 'proxy-connection', originHeader,
]);

/**
 * Marks a batch's sub-requests (`request.outerRequest`) as they enter the pipeline, and keeps
 * the agent protocol out of batches: it is not Graph, and its limits count devices, not batches.
 * Installed after the edge, so even that 404 carries a request id.
 */
export function installSubRequests(app: FastifyInstance): void {
  app.decorateRequest('outerRequest', null);
  app.addHook('onRequest', async (request) => {
    const key = request.headers[originHeader];
    if (key === undefined) return;
    delete request.raw.headers[originHeader];
    const injected = (request.raw as { isLightMyRequest?: boolean }).isLightMyRequest === true;
    const outer = injected && typeof key === 'string' ? origins.get(key) : undefined;
    if (!outer) return;
    request.outerRequest = outer;
    if (request.routeOptions.config?.batchable === false) {
      throw notFound(`Resource not found for the segment '${request.url.split('?')[0].slice(0, 200)}'.`);
    }
  });
}

/**
 * Runs one request of `outer`'s batch through the whole pipeline (edge, load shedding, auth,
 * rate limits, routing, validation, error replies) as if it had come on its own: with the
 * batch's Authorization and Host, and the batch's client address as its peer. Its links start
 * with the batch's service URL (`request.outerRequest`), so a nextLink in a sub-response is the
 * one a direct request gets. No X-Forwarded-* header reaches a sub-request: its peer already is
 * the address the batch's trusted proxies named, and a sub-request's own copy must not be
 * believed in their name.
 */
export async function injectSubRequest(app: FastifyInstance, outer: FastifyRequest, sub: SubRequest): Promise<SubResponse> {
  const key = randomUUID();
  const headers: Record<string, string> = {};
  const clientRequestId = clientRequestIdOf(outer);
  if (clientRequestId) headers['client-request-id'] = clientRequestId;
  for (const [name, value] of Object.entries(sub.headers)) if (!batchOwnedHeaders.has(name)) headers[name] = value;
  if (outer.headers.host) headers.host = outer.headers.host;
  if (outer.headers.authorization) headers.authorization = outer.headers.authorization;
  headers[originHeader] = key;
  origins.set(key, outer);
  try {
    const response = await app.inject({
      method: sub.method as HTTPMethods,
      url: sub.path,
      headers,
      ...(sub.payload === undefined ? {} : { payload: sub.payload }),
      remoteAddress: outer.ip,
    });
    const replyHeaders: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined) replyHeaders[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    }
    return { status: response.statusCode, headers: replyHeaders, payload: response.rawPayload };
  } catch (error) {
    // inject refuses once the server has begun closing; anything else is a bug, logged like one.
    if ((error as { code?: string }).code === 'FST_ERR_REOPENED_CLOSE_SERVER') {
      return errorSubResponse(outer, new ServiceError('serviceNotAvailable', 'The server is shutting down; retry.', { 'retry-after': '1' }), sub.headers);
    }
    outer.log.error({ err: error, requestId: outer.id }, 'batch sub-request failed');
    return errorSubResponse(outer, new ServiceError('generalException'), sub.headers);
  } finally {
    origins.delete(key);
  }
}

/**
 * A sub-response that never reached a route (a failed dependency, a closing server): the Graph
 * error body with a request id of its own, and the sub-request's client-request-id, else the batch's.
 */
export function errorSubResponse(outer: FastifyRequest, error: ServiceError, subHeaders: Record<string, string> = {}): SubResponse {
  const requestId = newRequestId();
  const clientRequestId = safeClientRequestId(subHeaders['client-request-id']) ?? clientRequestIdOf(outer);
  const body = graphErrorBody(error, requestId, clientRequestId ?? requestId);
  return {
    status: error.status,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'request-id': requestId,
      ...(clientRequestId ? { 'client-request-id': clientRequestId } : {}),
      ...error.headers,
    },
    payload: Buffer.from(JSON.stringify(body)),
  };
}
