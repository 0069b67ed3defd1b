import assert from 'node:assert/strict';
import type { TestServer } from './test-server.js';

/** A Graph error body, as every 4xx/5xx of the service must carry it. */
export interface GraphErrorBody {
  error: {
    code: string;
    message: string;
    innerError: { date: string; 'request-id': string; 'client-request-id': string };
  };
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isIsoDate(value: unknown): boolean {
  return typeof value === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(value) && !Number.isNaN(Date.parse(value));
}

/**
 * Asserts status, Graph error shape, `request-id` header = innerError request-id, and (when
 * given) the echoed `client-request-id`. Returns the error for further checks.
 */
export async function expectGraphError(
  response: Response,
  status: number,
  code: string,
  options: { clientRequestId?: string } = {},
): Promise<GraphErrorBody['error']> {
  const text = await response.text();
  assert.equal(response.status, status, `expected ${status} ${code}, got ${response.status}: ${text}`);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  const body = JSON.parse(text) as GraphErrorBody;
  assert.deepEqual(Object.keys(body), ['error']);
  const { error } = body;
  assert.equal(error.code, code, text);
  assert.equal(typeof error.message, 'string');
  assert.ok(error.message.length > 0);
  assert.ok(isIsoDate(error.innerError.date), `innerError.date ${error.innerError.date}`);
  const requestId = response.headers.get('request-id');
  assert.ok(requestId, 'request-id header');
  assert.match(requestId, uuid);
  assert.equal(error.innerError['request-id'], requestId);
  assert.equal(typeof error.innerError['client-request-id'], 'string');
  if (options.clientRequestId !== undefined) {
    assert.equal(response.headers.get('client-request-id'), options.clientRequestId);
    assert.equal(error.innerError['client-request-id'], options.clientRequestId);
  }
  return error;
}

/**
 * Rows of the `operations` table, read over a separate connection (better-sqlite3 read-only
 * for SQLite, pg for PostgreSQL); `where` uses `?` placeholders.
 */
export async function operationRows(server: TestServer, where = '1 = 1', ...params: unknown[]): Promise<Record<string, unknown>[]> {
  return server.query(`SELECT * FROM operations WHERE ${where} ORDER BY seq`, params);
}

/** A JSON column as an object: SQLite stores text, PostgreSQL jsonb comes back parsed. */
export function jsonColumn(value: unknown): unknown {
  return typeof value === 'string' ? JSON.parse(value) : value;
}

/** Ids of the first `count` devices of the default token's tenant, via the API. */
export async function deviceIds(server: TestServer, count: number): Promise<string[]> {
  const ids: string[] = [];
  let url: string | null = `/beta/teamwork/devices?$top=50&$select=id`;
  while (url && ids.length < count) {
    const response = await server.request(url);
    assert.equal(response.status, 200);
    const page = (await response.json()) as { value: { id: string }[]; '@odata.nextLink'?: string };
    ids.push(...page.value.map((d) => d.id));
    url = page['@odata.nextLink'] ?? null;
  }
  assert.ok(ids.length >= count, `need ${count} devices, have ${ids.length}`);
  return ids.slice(0, count);
}
