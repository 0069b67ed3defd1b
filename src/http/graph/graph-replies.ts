import type { FastifyReply, FastifyRequest } from 'fastify';
import { selectProperties } from './graph-shapes.js';
import { collectionBody } from './odata-envelope.js';
import type { ODataQuery } from './odata-query.js';

/** Graph's JSON content type, with the OData annotations it declares. */
export function sendJson(reply: FastifyReply, body: unknown) {
  return reply.type('application/json; odata.metadata=minimal; odata.streaming=true').send(body);
}

/** One page of a collection: each item as its Graph body with $select applied, then what $expand added; `@odata.nextLink` while more remain. */
export function sendCollection<T>(
  request: FastifyRequest,
  reply: FastifyReply,
  path: string,
  query: Pick<ODataQuery, 'select' | 'tokenScope'>,
  page: { items: T[]; next: unknown },
  body: (item: T) => Record<string, unknown>,
  count?: number,
  expanded?: (item: T) => Record<string, unknown> | undefined,
) {
  const value = page.items.map((item) => ({ ...selectProperties(body(item), query.select), ...expanded?.(item) }));
  return sendJson(reply, collectionBody(request, path, query, value, page.next, count));
}

/** A `/$count` segment's answer: the number alone, as text. */
export function sendCount(reply: FastifyReply, count: number) {
  return reply.type('text/plain; charset=utf-8').send(String(count));
}
