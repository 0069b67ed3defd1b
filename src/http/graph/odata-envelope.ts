import type { FastifyRequest } from 'fastify';
import '../service-url.js';
import { encodeSkipToken, type ODataQuery } from './odata-query.js';

function versionOf(request: FastifyRequest): string {
  return request.url.startsWith('/beta/') || request.url === '/beta' ? '/beta' : '';
}

/** `@odata.context`, e.g. …/beta/$metadata#teamwork/devices(id,deviceType)/$entity */
export function contextUrl(request: FastifyRequest, path: string, select: string[] | null, suffix = ''): string {
  const selected = select ? `(${select.join(',')})` : '';
  return `${request.serviceUrl}${versionOf(request)}/$metadata#${path}${selected}${suffix}`;
}

export function entityBody(context: string, body: Record<string, unknown>): Record<string, unknown> {
  return { '@odata.context': context, ...body };
}

/**
 * A collection page. `@odata.count` when asked for ($count=true), the number matching across
 * all pages. `@odata.nextLink` is absolute and keeps every original query option, with a fresh
 * `$skiptoken` in place of the old one and no `$skip` (the token is already past it).
 */
export function collectionBody(
  request: FastifyRequest,
  path: string,
  query: Pick<ODataQuery, 'select' | 'tokenScope'>,
  value: unknown[],
  next: unknown,
  count?: number,
): Record<string, unknown> {
  const body: Record<string, unknown> = { '@odata.context': contextUrl(request, path, query.select) };
  if (count !== undefined) body['@odata.count'] = count;
  if (next !== null && next !== undefined) body['@odata.nextLink'] = nextLink(request, encodeSkipToken(next, query.tokenScope));
  body.value = value;
  return body;
}

function nextLink(request: FastifyRequest, skipToken: string): string {
  const mark = request.url.indexOf('?');
  const path = mark === -1 ? request.url : request.url.slice(0, mark);
  const search = mark === -1 ? '' : request.url.slice(mark + 1);
  const params = new URLSearchParams(search);
  for (const name of [...params.keys()]) {
    if (/^\$?(skiptoken|skip)$/i.test(name)) params.delete(name);
  }
  params.set('$skiptoken', skipToken);
  // URLSearchParams writes spaces as '+', which every query parser (ours included) reads back as spaces.
  return `${request.serviceUrl}${path}?${params.toString()}`;
}
