import { badRequest } from '../../domain/errors.js';
import type { SubRequest } from '../sub-requests.js';

/** Graph's limit of requests in one batch. */
export const maxBatchRequests = 20;

/** The methods a Graph request may have; anything else in a batch is a 400 naming it. */
const batchMethods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** RFC 9110 token: what a header name may be. */
const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** What an HTTP/1.1 header value can carry (no CR, LF or NUL, nothing beyond Latin-1). */
const headerValue = /^[\t\x20-\x7e\x80-\xff]*$/;

/** One request of a batch, validated. */
export interface BatchStep {
  /** as the client sent it (a string, or the number some clients send), echoed in its response */
  id: string | number;
  request: SubRequest;
  /** indexes of the steps it runs after */
  dependsOn: number[];
}

/**
 * A `$batch` body's schema: its shape. The rules of each request are parseBatch's, whose
 * messages name the request by its id, which a schema's cannot.
 */
export const batchBodySchema = {
  title: 'batchRequest',
  type: 'object',
  required: ['requests'],
  properties: {
    requests: {
      type: 'array',
      description:
        `1 to ${maxBatchRequests} requests, each {id, method, url, headers?, body?, dependsOn?}: url relative to the batch's version ` +
        '(such as /teamwork/devices), a body needs a Content-Type header, ids are compared ignoring case, dependsOn names ids of this batch',
      items: {},
    },
  },
} as const;

/**
 * Reads a `$batch` body (already checked against batchBodySchema) (`{"requests":[{id, method, url, headers?, body?, dependsOn?}]}`) into
 * steps, in the order sent, or throws a 400 naming the first problem: a malformed batch runs
 * nothing. `version` ('' or '/beta') is the batch's own; each `url` is relative to it.
 */
export function parseBatch(body: { requests: unknown[] }, version: string): BatchStep[] {
  const requests = body.requests;
  if (requests.length === 0) throw badRequest(`The batch's 'requests' is empty: a batch holds 1 to ${maxBatchRequests} requests.`);
  if (requests.length > maxBatchRequests) throw badRequest(`The batch holds ${requests.length} requests; at most ${maxBatchRequests} are allowed.`);

  // Graph compares ids ignoring case; a number and its digits as a string are the same id.
  const indexById = new Map<string, number>();
  const ids = requests.map((raw: unknown, i) => {
    if (!isObject(raw)) throw badRequest(`Request ${i + 1} of the batch is not a JSON object.`);
    const id = raw.id;
    if (id === undefined || id === null || id === '') throw badRequest(`Request ${i + 1} of the batch has no 'id'.`);
    if (typeof id !== 'string' && typeof id !== 'number') throw badRequest(`Request ${i + 1} of the batch has an 'id' that is neither a string nor a number.`);
    const key = String(id).toLowerCase();
    if (indexById.has(key)) throw badRequest(`The id '${shown(id)}' appears more than once in the batch (ids are compared ignoring case).`);
    indexById.set(key, i);
    return id;
  });

  const steps = (requests as Array<Record<string, unknown>>).map((raw, i): BatchStep => {
    const id = ids[i];
    const name = `Request '${shown(id)}'`;
    if (typeof raw.method !== 'string' || raw.method === '') throw badRequest(`${name} of the batch has no 'method'.`);
    const method = raw.method.toUpperCase();
    if (!batchMethods.includes(method)) throw badRequest(`${name}: the method '${shown(raw.method)}' is not one of ${batchMethods.join(', ')}.`);
    const path = subRequestPath(raw.url, version, name);
    const headers = readHeaders(raw.headers, name);
    const hasBody = raw.body !== undefined && raw.body !== null;
    if (hasBody && headers['content-type'] === undefined) throw badRequest(`${name} has a body but no Content-Type header.`);
    const payload = hasBody ? encodeBody(raw.body, headers['content-type']) : undefined;
    const dependsOn = readDependsOn(raw.dependsOn, indexById, name);
    return { id, request: { method, path, headers, ...(payload === undefined ? {} : { payload }) }, dependsOn };
  });
  refuseCycles(steps);
  return steps;
}

/**
 * The path a sub-request is run at: the batch's version, then `url` with or without its
 * leading slash. Clients write spaces and quotes unencoded (`?$filter=deviceType eq 'ipPhone'`);
 * URL parsing encodes them as a client's HTTP stack would. A backslash or `#` is text here, not
 * a path separator (URL parsing's reading of `\`) or the start of a fragment that would silently
 * drop the rest of a filter.
 */
function subRequestPath(url: unknown, version: string, name: string): string {
  if (typeof url !== 'string' || url.trim() === '') throw badRequest(`${name} of the batch has no 'url'.`);
  if (/^[a-z][a-z0-9+.-]*:/i.test(url)) throw badRequest(`${name}: 'url' must be relative to the version, such as /teamwork/devices, not an absolute URL.`);
  if (/[\x00-\x1f\x7f]/.test(url)) throw badRequest(`${name}: 'url' contains control characters.`);
  const relative = url.replace(/^\/+/, '').replace(/[\\#]/g, (c) => encodeURIComponent(c));
  let parsed: URL;
  try {
    parsed = new URL(`${version}/${relative}`, 'http://localhost');
  } catch {
    throw badRequest(`${name}: 'url' is not a valid relative URL.`);
  }
  let decodedPath = parsed.pathname;
  try {
    decodedPath = decodeURIComponent(parsed.pathname);
  } catch {
    // a malformed escape: the route lookup will not match it either
  }
  if (/\/\$batch\/?$/i.test(decodedPath)) throw badRequest(`${name} is a $batch request: batches cannot be nested.`);
  return parsed.pathname + parsed.search;
}

/** A sub-request's headers, names in lower case; values must be text a header line can carry. */
function readHeaders(raw: unknown, name: string): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (!isObject(raw)) throw badRequest(`${name}: 'headers' must be a JSON object.`);
  // No prototype: a header named __proto__ is then just a (useless) header.
  const headers: Record<string, string> = Object.create(null);
  for (const [header, value] of Object.entries(raw)) {
    if (!headerName.test(header)) throw badRequest(`${name}: '${shown(header)}' is not a valid header name.`);
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw badRequest(`${name}: the header '${shown(header)}' must have a string value.`);
    }
    const text = String(value);
    if (!headerValue.test(text)) throw badRequest(`${name}: the header '${shown(header)}' holds characters a header cannot carry.`);
    headers[header.toLowerCase()] = text;
  }
  return headers;
}

/**
 * A sub-request's payload. A JSON body is the JSON value itself; any other content type's body
 * is base64, as Graph documents (the routes then answer 415, as they do to such a request).
 */
function encodeBody(body: unknown, contentType: string): Buffer {
  if (/^application\/([\w.-]+\+)?json\b/i.test(contentType.trim()) || typeof body !== 'string') return Buffer.from(JSON.stringify(body));
  return Buffer.from(body, 'base64');
}

function readDependsOn(raw: unknown, indexById: Map<string, number>, name: string): number[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw badRequest(`${name}: 'dependsOn' must be an array of request ids.`);
  const indexes = new Set<number>();
  for (const dependency of raw) {
    if (typeof dependency !== 'string' && typeof dependency !== 'number') throw badRequest(`${name}: 'dependsOn' must be an array of request ids.`);
    const index = indexById.get(String(dependency).toLowerCase());
    if (index === undefined) throw badRequest(`${name} depends on '${shown(dependency)}', which is not a request of this batch.`);
    indexes.add(index);
  }
  return [...indexes];
}

/** A dependency cycle would leave its requests waiting for each other forever: a 400 that shows it. */
function refuseCycles(steps: BatchStep[]): void {
  const state = steps.map(() => 'new' as 'new' | 'visiting' | 'done');
  const path: number[] = [];
  const visit = (i: number): void => {
    if (state[i] === 'done') return;
    if (state[i] === 'visiting') {
      const cycle = [...path.slice(path.indexOf(i)), i].map((j) => `'${shown(steps[j].id)}'`);
      throw badRequest(`The batch's dependsOn form a cycle: ${cycle.join(' → ')}.`);
    }
    state[i] = 'visiting';
    path.push(i);
    for (const dependency of steps[i].dependsOn) visit(dependency);
    path.pop();
    state[i] = 'done';
  };
  for (let i = 0; i < steps.length; i++) visit(i);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A client's value in an error message: bounded, whatever the client sent. */
function shown(value: string | number): string {
  return String(value).slice(0, 64);
}
