import { currentSession, endSession } from './session';

/** A Graph error reply: the registry's code and message, and the request id to quote. */
export class GraphError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId: string | null,
  ) {
    super(message);
  }
}

export interface Collection<T> {
  value: T[];
  '@odata.nextLink'?: string;
  '@odata.count'?: number;
}

export interface BatchRequest {
  id: string;
  method: 'GET' | 'POST';
  /** relative to the API version root, e.g. `/teamwork/devices/$count?$filter=…` */
  url: string;
}

export interface BatchResponse {
  id: string;
  status: number;
  headers: Record<string, string>;
  body?: unknown;
}

/** Graph allows 20 requests per `$batch`. */
const batchLimit = 20;

/** The service's root: the folder the console was loaded from (the console may sit behind a path prefix). */
export const serviceRoot = new URL('.', location.href.split('#')[0].split('?')[0]).href;

/** The Graph API's version root, where every console request goes. */
export const apiRoot = `${serviceRoot}beta`;

/**
 * Sends a request with the session's bearer token. A 401 ends the session (the token expired or
 * was refused), so the app shows the sign-in page; any other error is thrown as a GraphError.
 */
export async function apiFetch(pathOrUrl: string, init: RequestInit = {}): Promise<Response> {
  const session = currentSession();
  if (!session) {
    endSession('Your session has ended; sign in again.');
    throw new GraphError(401, 'unauthenticated', 'Not signed in.', null);
  }
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${session.token}`);
  const url = pathOrUrl.startsWith('http') ? pathOrUrl : apiRoot + pathOrUrl;
  let response: Response;
  try {
    response = await fetch(url, { ...init, headers });
  } catch {
    throw new GraphError(0, 'unreachable', 'The server cannot be reached.', null);
  }
  if (response.status === 401) {
    endSession('The server refused your token (it may have expired); sign in again.');
  }
  if (!response.ok) throw await graphErrorOf(response);
  return response;
}

/** The GraphError a failed reply carries (or one made from its status when its body is not Graph's). */
export async function graphErrorOf(response: Response): Promise<GraphError> {
  const requestId = response.headers.get('request-id');
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.code) return new GraphError(response.status, body.error.code, body.error.message ?? '', requestId);
  } catch {
    // not JSON: described by its status below
  }
  return new GraphError(response.status, `http${response.status}`, `The server answered ${response.status} ${response.statusText}.`, requestId);
}

/** GET a JSON resource. */
export async function getJson<T>(pathOrUrl: string): Promise<T> {
  return (await (await apiFetch(pathOrUrl)).json()) as T;
}

/** POST a JSON body; returns the reply (an action's 202 carries its operation in `Location`). */
export function postJson(path: string, body: unknown): Promise<Response> {
  return sendJson('POST', path, body);
}

/** PATCH a JSON body (the properties to change); returns the reply. */
export function patchJson(path: string, body: unknown): Promise<Response> {
  return sendJson('PATCH', path, body);
}

/** DELETE a resource. */
export function deleteResource(path: string): Promise<Response> {
  return apiFetch(path, { method: 'DELETE' });
}

function sendJson(method: 'POST' | 'PATCH', path: string, body: unknown): Promise<Response> {
  return apiFetch(path, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/**
 * Runs requests as `$batch`es of at most 20 (sent side by side); answers by id. A request's
 * own failure is its response's status, not a thrown error.
 */
export async function batch(requests: BatchRequest[]): Promise<Map<string, BatchResponse>> {
  const chunks: BatchRequest[][] = [];
  for (let i = 0; i < requests.length; i += batchLimit) chunks.push(requests.slice(i, i + batchLimit));
  const replies = await Promise.all(chunks.map(async (chunk) => {
    const response = await apiFetch('/$batch', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ requests: chunk }) });
    return ((await response.json()) as { responses: BatchResponse[] }).responses;
  }));
  return new Map(replies.flat().map((response) => [response.id, response]));
}

/** A `$count` reply inside a batch: text, so its body comes base64-encoded. */
export function batchCount(response: BatchResponse | undefined): number | null {
  if (!response || response.status !== 200 || typeof response.body !== 'string') return null;
  const count = Number(atob(response.body));
  return Number.isInteger(count) ? count : null;
}

/** An OData string literal: quotes doubled, so a search text can never end the literal. */
export function odataString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
