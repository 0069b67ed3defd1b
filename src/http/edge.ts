import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { badRequest, notFound, ServiceError, type ErrorName } from '../domain/errors.js';
import { StoreInputError, StoreUnavailableError } from '../store/store-errors.js';
import { securityHeaders, securityHeadersFor } from './reply-headers.js';

/** Seconds a client is asked to wait when the database is unavailable. */
const storeRetryAfterSeconds = 2;

/**
 * The edge of the service: request ids, the Graph error body, and the mapping of every
 * failure (ours, Fastify's, unexpected ones) onto the error registry.
 */
export function installGraphEdge(app: FastifyInstance): void {
  let closing = false;
  const connections = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });
  app.addHook('preClose', async () => {
    closing = true;
    // A connection that has not sent a byte has nothing to answer, yet Node counts it as busy
    // (its first request's header timer runs), so close() would wait the whole grace period
    // for it: a client's pool that connected and then gave up its request leaves such sockets.
    for (const socket of connections) if (socket.bytesRead === 0) socket.destroy();
  });
  app.addHook('onRequest', async (request, reply) => {
    reply.headers(securityHeadersFor(request));
    reply.header('request-id', request.id);
    const clientRequestId = clientRequestIdOf(request);
    if (clientRequestId) reply.header('client-request-id', clientRequestId);
    if (closing) {
      // Shutting down: tell the client to come back (to another replica) and close the connection.
      reply.header('connection', 'close');
      throw new ServiceError('serviceNotAvailable', 'The server is shutting down; retry.', { 'retry-after': '1' });
    }
  });
  app.addHook('onSend', async (_request, reply) => {
    // Keep-alive connections would otherwise hold the server open after their last response.
    if (closing) reply.header('connection', 'close');
  });

  app.setErrorHandler((error: FastifyError | ServiceError, request, reply) => {
    if (error instanceof ServiceError) return sendGraphError(request, reply, error);
    if (error instanceof StoreUnavailableError) {
      request.log.warn({ err: error, requestId: request.id }, 'database unavailable');
      return sendGraphError(request, reply, new ServiceError('serviceNotAvailable', undefined, { 'retry-after': String(storeRetryAfterSeconds) }));
    }
    if (error instanceof StoreInputError) {
      return sendGraphError(request, reply, badRequest('The request contains characters that cannot be stored (such as U+0000).'));
    }
    const mapped = fastifyErrorName(error);
    if (mapped) return sendGraphError(request, reply, new ServiceError(mapped, mapped === 'invalidRequest' ? error.message : undefined));
    request.log.error({ err: error, requestId: request.id }, 'unhandled error');
    return sendGraphError(request, reply, new ServiceError('generalException'));
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0];
    return sendGraphError(request, reply, notFound(`Resource not found for the segment '${path.slice(0, 200)}'.`));
  });
}

/** Sends `{"error":{code,message,innerError}}` with the request's ids; status and code come from the registry entry. */
function sendGraphError(request: FastifyRequest, reply: FastifyReply, error: ServiceError) {
  for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
  return reply
    .code(error.status)
    .type('application/json')
    .send(graphErrorBody(error, request.id, clientRequestIdOf(request) ?? request.id));
}

/** Graph's error body; innerError carries the time and both request ids. */
export function graphErrorBody({ code, message }: ServiceError, requestId: string, clientRequestId: string) {
  return { error: { code, message, innerError: { date: new Date().toISOString(), 'request-id': requestId, 'client-request-id': clientRequestId } } };
}

export function newRequestId(): string {
  return randomUUID();
}

/** Fastify's own early rejections (a malformed URL, an over-long path segment), as Graph errors. */
export function frameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  reply.headers(securityHeadersFor(request));
  reply.header('request-id', request.id);
  const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
  return sendGraphError(request, reply, tooLong ? notFound('Resource not found: a path segment is too long.') : badRequest('The request URL is malformed.'));
}

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (bad header characters,
 * oversized headers) and requests that did not arrive within the request timeout: a raw
 * reply that still carries the Graph error body and a request id, then the connection closes.
 */
export function clientError(error: Error & { code?: string }, socket: Socket): void {
  // A reply already under way on this socket cannot be followed by another (as Node itself decides).
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const requestId = randomUUID();
  const reply = error.code === 'HPE_HEADER_OVERFLOW' ? new ServiceError('headersTooLarge')
    : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? new ServiceError('requestTimeout')
    : badRequest('The HTTP request is malformed.');
  const body = JSON.stringify(graphErrorBody(reply, requestId, requestId));
  const headers = { ...securityHeaders((socket as TLSSocket).encrypted === true), 'request-id': requestId };
  socket.write(
    `HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status]}\r\n` +
      `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('') +
      `connection: close\r\n\r\n${body}`,
  );
  // Not end() alone: the server allows half-open sockets, so a client that never closes its
  // side (the slow sender this answers) would keep the connection.
  socket.destroySoon();
}

/** The client's `client-request-id` when it is safe to echo, else null. */
export function clientRequestIdOf(request: FastifyRequest): string | null {
  return safeClientRequestId(request.headers['client-request-id']);
}

/** A `client-request-id` value, or null when it is not safe to put back in a header and a log line. */
export function safeClientRequestId(raw: unknown): string | null {
  return typeof raw === 'string' && /^[\x21-\x7e]{1,128}$/.test(raw) ? raw : null;
}

function fastifyErrorName(error: FastifyError): ErrorName | null {
  // Fastify's own errors carry their status (body too large 413, media type 415, bad length 400).
  if (error.statusCode === 413) return 'requestTooLarge';
  if (error.statusCode === 415) return 'unsupportedMediaType';
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) return 'invalidRequest';
  return null;
}
