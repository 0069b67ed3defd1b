import type { FastifyInstance, FastifyRequest } from 'fastify';
import { notFound, ServiceError } from '../domain/errors.js';
import { clientRequestIdOf, graphErrorBody, newRequestId, safeClientRequestId } from './edge.js';
import { InProcessRequest, InProcessResponse, type InProcessReply } from './in-process-messages.js';

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
  payload?: Buffer;
}

export type SubResponse = InProcessReply;

/**
 * Headers that belong to the batch's connection and caller, not to one of its requests: the
 * batch's own stand for every sub-request, or none does (framing is the in-process request's).
 */
const batchOwnedHeaders = new Set([
  'authorization', 'host', 'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port',
  'x-real-ip', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect',
  'proxy-authorization', 'proxy-connection',
]);

/**
 * Marks a batch's sub-requests (`request.outerRequest`) as they enter the pipeline, and keeps
 * the agent protocol out of batches: it is not Graph, and its limits count devices, not batches.
 * Installed after the edge, so even that 404 carries a request id. Only a request made in this
 * process is an InProcessRequest, so nothing a client sends can pass for a sub-request.
 */
export function installSubRequests(app: FastifyInstance): void {
  app.decorateRequest('outerRequest', null);
  app.addHook('onRequest', async (request) => {
    if (!(request.raw instanceof InProcessRequest)) return;
    request.outerRequest = (request.raw as InProcessRequest<FastifyRequest>).origin;
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
export async function runSubRequest(app: FastifyInstance, outer: FastifyRequest, sub: SubRequest): Promise<SubResponse> {
  const headers: Record<string, string> = {};
  const clientRequestId = clientRequestIdOf(outer);
  if (clientRequestId) headers['client-request-id'] = clientRequestId;
  for (const [name, value] of Object.entries(sub.headers)) if (!batchOwnedHeaders.has(name)) headers[name] = value;
  if (outer.headers.host) headers.host = outer.headers.host;
  if (outer.headers.authorization) headers.authorization = outer.headers.authorization;
  try {
    return await new Promise<SubResponse>((resolve, reject) => {
      const request = new InProcessRequest({ method: sub.method, path: sub.path, headers, payload: sub.payload, remoteAddress: outer.ip }, outer);
      const response = new InProcessResponse(resolve, reject);
      app.routing(request.asIncomingMessage(), response.asServerResponse());
    });
  } catch (error) {
    // Every failure a route can have is already a reply; this is a bug, logged like one.
    outer.log.error({ err: error, requestId: outer.id }, 'batch sub-request failed');
    return errorSubResponse(outer, new ServiceError('generalException'), sub.headers);
  }
}

/**
 * A sub-response that never reached a route (a failed dependency) or lost its reply: the Graph
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
