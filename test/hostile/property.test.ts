import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import pg from 'pg';
import { deviceProperties } from '../../src/domain/device.js';
import { activityStates, deviceTypes, healthStatuses } from '../../src/domain/enums.js';
import { errorRegistry } from '../../src/domain/errors.js';
import { operationProperties } from '../../src/domain/operation.js';
import { parseDeviceFilter } from '../../src/http/graph/odata-filter.js';
import { devicePageOrder } from '../../src/store/device-list-plan.js';
import { isIsoDate } from '../helpers/http-assertions.js';
import { testStore } from '../helpers/test-database.js';
import { startTestServer, tenantA, tenantB, type TestServer } from '../helpers/test-server.js';

/**
 * Hostile input, generated (fast-check): action bodies, query options, ids in paths and
 * header values. Whatever arrives: never a 5xx, every 4xx carries the Graph error body, a
 * tenant-A caller never sees a row of tenant B, and a refused request never leaves an
 * operation behind. One server for the whole file; every property is bounded.
 */

/**
 * Whether generated text may contain U+0000 (PostgreSQL refuses it in text parameters; the
 * service must answer 400/404, not 500). Switch off only to isolate another failure.
 */
const generateNul = true;

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// A code may serve several statuses (invalidRequest: 400 and 431), so pairs are compared.
const registeredPairs = new Set(Object.values(errorRegistry).map((e) => `${e.status} ${e.code}`));
const softwareTypes = ['adminAgent', 'operatingSystem', 'teamsClient', 'firmware', 'partnerAgent', 'companyPortal'];
const filterable = [
  'deviceType', 'healthStatus', 'activityState', 'companyAssetTag', 'notes', 'displayName', 'hardwareDetail/uniqueId',
  'hardwareDetail/serialNumber', 'hardwareDetail/manufacturer', 'hardwareDetail/model', 'currentUser/id', 'currentUser/displayName',
];

let server: TestServer;
let tokenB: string;
/** tenant A's and tenant B's device ids */
let aIds: string[];
let bIds: string[];
let aIdSet: Set<string>;
let bIdSet: Set<string>;
/** literals that would match tenant B's devices if tenants leaked */
let bLiterals: string[];
let aOperation: { deviceId: string; id: string };
let bOperation: { deviceId: string; id: string };
let counter: { count(): Promise<number>; close(): Promise<void> };

/** The number of rows in `operations`, over one connection kept open for the whole file. */
async function openCounter(db: string): Promise<typeof counter> {
  if (testStore === 'postgres') {
    const client = new pg.Client({ connectionString: db });
    await client.connect();
    return {
      count: async () => Number((await client.query('SELECT count(*) AS n FROM operations')).rows[0].n),
      close: () => client.end(),
    };
  }
  const conn = new Database(db, { readonly: true });
  const statement = conn.prepare('SELECT count(*) AS n FROM operations');
  return {
    count: async () => (statement.get() as { n: number }).n,
    close: async () => void conn.close(),
  };
}

before(async () => {
  server = await startTestServer({ devicesA: 60, devicesB: 30 });
  tokenB = await server.token({ tenantId: tenantB });
  const rows = await server.query<{ tenant_id: string; id: string; hw_unique_id: string | null; hw_serial_number: string | null; current_user_id: string | null }>(
    'SELECT tenant_id, id, hw_unique_id, hw_serial_number, current_user_id FROM devices ORDER BY id',
  );
  aIds = rows.filter((r) => r.tenant_id === tenantA).map((r) => r.id);
  bIds = rows.filter((r) => r.tenant_id === tenantB).map((r) => r.id);
  assert.equal(aIds.length, 60);
  assert.equal(bIds.length, 30);
  aIdSet = new Set(aIds);
  bIdSet = new Set(bIds);
  bLiterals = rows
    .filter((r) => r.tenant_id === tenantB)
    .flatMap((r) => [r.id, r.hw_unique_id, r.hw_serial_number, r.current_user_id])
    .filter((v): v is string => typeof v === 'string')
    .slice(0, 40);
  // One operation on each side, so ids of real operations can be aimed at the wrong device or tenant.
  const a = await server.request(`/beta/teamwork/devices/${aIds[0]}/runDiagnostics`, { method: 'POST' });
  const b = await server.request(`/beta/teamwork/devices/${bIds[0]}/runDiagnostics`, { method: 'POST', token: tokenB });
  assert.equal(a.status, 202);
  assert.equal(b.status, 202);
  aOperation = { deviceId: aIds[0], id: a.headers.get('location')!.split('/').pop()! };
  bOperation = { deviceId: bIds[0], id: b.headers.get('location')!.split('/').pop()! };
  counter = await openCounter(server.dbPath);
});

after(async () => {
  await counter?.close();
  await server?.stop();
});

// ---------------------------------------------------------------------------------------
// What every reply must look like

interface Reply {
  status: number;
  text: string;
  headers: Headers;
  error: { code: string; message: string; innerError: Record<string, string> } | null;
}

/** Statuses seen by the running property, reported as a diagnostic (how much of each path was exercised). */
let statuses: Record<number, number> = {};

/** Reads the reply and checks the rules every reply obeys: no 5xx, request-id, Graph errors. */
async function reply(response: Response, what: string): Promise<Reply> {
  statuses[response.status] = (statuses[response.status] ?? 0) + 1;
  const text = await response.text();
  const context = `${what} → ${response.status} ${text.slice(0, 300)}`;
  assert.ok(response.status < 500, `never a 5xx: ${context}`);
  assert.match(response.headers.get('request-id') ?? '', uuid, `request-id header: ${context}`);
  if (response.status < 400) return { status: response.status, text, headers: response.headers, error: null };
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/, `error content-type: ${context}`);
  let body: unknown;
  assert.doesNotThrow(() => (body = JSON.parse(text)), `error body is JSON: ${context}`);
  const envelope = body as { error?: Record<string, unknown> };
  assert.deepEqual(Object.keys(envelope), ['error'], `Graph error envelope: ${context}`);
  const error = envelope.error as { code: unknown; message: unknown; innerError: Record<string, unknown> };
  assert.equal(typeof error.code, 'string', context);
  assert.ok(registeredPairs.has(`${response.status} ${error.code}`), `a registered code for the status: ${context}`);
  assert.ok(typeof error.message === 'string' && error.message.length > 0, context);
  assert.ok(error.innerError && typeof error.innerError === 'object', context);
  assert.ok(isIsoDate(error.innerError.date), `innerError.date: ${context}`);
  assert.equal(error.innerError['request-id'], response.headers.get('request-id'), `innerError request-id: ${context}`);
  assert.equal(typeof error.innerError['client-request-id'], 'string', context);
  return { status: response.status, text, headers: response.headers, error: error as Reply['error'] };
}

function send(path: string, init: RequestInit & { token?: string | null } = {}): Promise<Response> {
  return server.request(path, init);
}

/** encodeURIComponent, or null for strings it cannot encode (lone surrogates). */
function encode(text: string): string | null {
  try {
    return encodeURIComponent(text);
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------
// Generators

const noNul = (s: string) => generateNul || !s.includes('\u0000');
const anyText = fc.oneof(fc.string({ maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }))
  .filter(noNul);
const validVersion = fc.stringMatching(/^[A-Za-z0-9.\-+_]{1,64}$/);

/** Deeply nested JSON (arrays and objects), some of it over the 64 KiB body limit. */
const deepJson = fc.tuple(fc.integer({ min: 1, max: 40_000 }), fc.boolean()).map(([depth, arrays]) =>
  arrays ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth));

/** Bodies that look like an updateSoftware body, with each part possibly wrong. */
const plausibleBody = fc.record({
  softwareType: fc.oneof(fc.constantFrom(...softwareTypes), fc.constantFrom('TeamsClient', 'teamsclient', ' teamsClient', ''), anyText, fc.anything()),
  softwareVersion: fc.oneof(validVersion, anyText, fc.anything(), fc.constant(null)),
  extra: fc.anything(),
}, { requiredKeys: [] }).map((body) => JSON.stringify(body));

const actionBody = fc.oneof(
  { weight: 3, arbitrary: plausibleBody },
  { weight: 2, arbitrary: fc.anything().map((value) => JSON.stringify(value) as string | undefined) },
  { weight: 2, arbitrary: fc.json() },
  { weight: 1, arbitrary: fc.object().map((value) => JSON.stringify(value)) },
  { weight: 1, arbitrary: anyText },
  { weight: 1, arbitrary: deepJson },
  { weight: 1, arbitrary: fc.constantFrom(undefined, '', ' ', 'null', '{}', '[]', '"x"', '{"softwareType":"teamsClient"', '{"a":1}{"b":2}', '\ufeff{}',
    '{"__proto__":{"softwareType":"teamsClient"},"softwareType":"teamsClient"}', '{"constructor":{},"softwareType":"firmware"}',
    '{"softwareType":"teamsClient","softwareType":"firmware"}') },
).filter((body) => body === undefined || noNul(body));

/** Filter text: anything, tokens of the OData grammar thrown together, or well-formed filters. */
function filterText(): fc.Arbitrary<string> {
  const literal = fc.oneof(
    fc.constantFrom("'x'", "''", "'it''s'", "'", "'%'", "'%25'", "'%zz'", "'a?b'", "'*'", 'null', 'true', 'false', '1', '-1', '1.5e309',
      "microsoft.graph.teamworkDeviceType'teamsRoom'", "teamworkDeviceType'x'", "datetime'2020-01-01'", '2020-01-01T00:00:00Z',
      "'teamsRoom'", "'TEAMSROOM'", "'healthy'", `'${tenantB}'`, `'${tenantA}'`, "' or 1 eq 1 or '", "'; DROP TABLE devices; --'"),
    fc.constantFrom(...bLiterals).map((v) => `'${v.replace(/'/g, "''")}'`),
    anyText.map((v) => `'${v.replace(/'/g, "''")}'`),
  );
  const property = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...filterable) },
    { weight: 1, arbitrary: fc.constantFrom('id', 'tenant_id', 'tenantId', 'hardwareDetail', 'hardwareDetail/macAddresses', 'health/connection', 'a/b/c', '$it', 'DEVICETYPE', 'currentUser') },
  );
  const token = fc.oneof(
    property,
    literal,
    fc.constantFrom('eq', 'ne', 'gt', 'lt', 'ge', 'le', 'and', 'or', 'not', 'in', 'has', 'add', 'startswith(', 'endswith(', 'contains(',
      'tolower(', 'any(d:d eq 1)', 'all(', '(', ')', ',', '/', ' ', '%20', '+', '-', '$filter=', '&', '@p', ':'),
  );
  const tokens = fc.array(token, { maxLength: 14 }).chain((parts) => fc.constantFrom(' ', '').map((glue) => parts.join(glue)));
  const comparison = fc.tuple(property, fc.constantFrom('eq', 'ne'), literal).map(([p, op, v]) => `${p} ${op} ${v}`);
  const condition = fc.oneof(
    comparison,
    fc.tuple(property, literal).map(([p, v]) => `startswith(${p},${v})`),
    fc.tuple(property, fc.array(literal, { minLength: 1, maxLength: 4 })).map(([p, vs]) => `${p} in (${vs.join(',')})`),
  );
  const wellFormed = fc.array(fc.tuple(fc.constantFrom('and', 'or'), condition, fc.boolean()), { minLength: 1, maxLength: 4 }).map((parts) =>
    parts.reduce((text, [op, c, negate], i) => {
      const next = negate ? `not (${c})` : c;
      return i === 0 ? next : `(${text}) ${op} ${next}`;
    }, ''));
  const nested = fc.integer({ min: 1, max: 700 }).map((n) => `${'('.repeat(n)}deviceType eq 'teamsRoom'${')'.repeat(n)}`);
  return fc.oneof({ weight: 2, arbitrary: anyText }, { weight: 3, arbitrary: tokens }, { weight: 4, arbitrary: wellFormed }, { weight: 1, arbitrary: nested })
    .filter(noNul);
}

/** Filters the service accepts (mostly): known properties, enum members, literals of tenant B's devices. */
function validFilterText(): fc.Arbitrary<string> {
  const quote = (v: string) => `'${v.replace(/'/g, "''")}'`;
  const textLiteral = fc.oneof(fc.constantFrom(...bLiterals), fc.constantFrom('', 'a', 'Yealink', 'TAG-', "it's"), anyText).map(quote);
  const enums: [string, readonly string[]][] = [['deviceType', deviceTypes], ['healthStatus', healthStatuses], ['activityState', activityStates]];
  const stringProperty = fc.constantFrom(...filterable.filter((p) => !enums.some(([e]) => e === p)));
  const condition = fc.oneof(
    fc.tuple(stringProperty, fc.constantFrom('eq', 'ne'), fc.oneof(textLiteral, fc.constant('null'))).map(([p, op, v]) => `${p} ${op} ${v}`),
    fc.tuple(stringProperty, textLiteral).map(([p, v]) => `startswith(${p},${v})`),
    fc.tuple(stringProperty, fc.array(textLiteral, { minLength: 1, maxLength: 4 })).map(([p, vs]) => `${p} in (${vs.join(',')})`),
    fc.constantFrom(...enums).chain(([p, members]) =>
      fc.tuple(fc.constantFrom('eq', 'ne'), fc.constantFrom(...members)).map(([op, m]) => `${p} ${op} '${m}'`)),
  );
  return fc.array(fc.tuple(fc.constantFrom('and', 'or'), condition, fc.boolean()), { minLength: 1, maxLength: 4 }).map((parts) =>
    parts.reduce((text, [op, c, negate], i) => {
      const next = negate ? `not (${c})` : c;
      return i === 0 ? next : `(${text}) ${op} ${next}`;
    }, '')).filter(noNul);
}

/** A skiptoken whose keyset position is chosen by the attacker, with a fingerprint that passes. */
function forgedSkipToken(position: unknown, filter: string | null): string {
  const fingerprint = createHash('sha256').update(filter ?? '').digest('base64url').slice(0, 12);
  return Buffer.from(JSON.stringify({ p: position, f: fingerprint })).toString('base64url');
}

const topText = fc.oneof(
  fc.constantFrom('0', '1', '2', '50', '51', '-1', '1e3', '0x10', ' 5', '5 ', '99999999999999999999', 'NaN', '', '007', '+3', '1.0'),
  fc.integer({ min: -10, max: 1000 }).map(String),
  anyText,
);
const selectText = fc.oneof(
  fc.array(fc.constantFrom(...deviceProperties, 'id', 'ID', 'tenantId', 'hardwareDetail/uniqueId', '', ' id', '*', '__proto__', 'constructor', 'toString'), { maxLength: 5 })
    .map((names) => names.join(',')),
  anyText,
);

// ---------------------------------------------------------------------------------------

describe('hostile input (property-based)', () => {
  test('action bodies: never a 5xx, Graph errors, an operation exactly for each 202 and only on the caller\'s devices', { timeout: 60_000 }, async (t) => {
    statuses = {};
    const target = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...aIds.slice(1, 6)) },
      { weight: 1, arbitrary: fc.constantFrom(...bIds.slice(0, 3)) },
      { weight: 1, arbitrary: fc.uuid() },
    );
    const action = fc.constantFrom('updateSoftware', 'restart', 'runDiagnostics', 'microsoft.graph.updateSoftware', 'microsoft.graph.restart', 'UpdateSoftware');
    const contentType = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON');
    await fc.assert(fc.asyncProperty(target, action, actionBody, contentType, async (deviceId, name, body, type) => {
      const before = await counter.count();
      const response = await send(`/beta/teamwork/devices/${deviceId}/${name}`, {
        method: 'POST',
        headers: body === undefined ? {} : { 'content-type': type },
        body,
      });
      const what = `POST ${name} on ${deviceId} with ${JSON.stringify(body)?.slice(0, 200)}`;
      const r = await reply(response, what);
      assert.ok([202, 400, 404, 409, 413, 415].includes(r.status), `${what}: ${r.status}`);
      const created = (await counter.count()) - before;
      if (r.status === 202) {
        assert.ok(aIdSet.has(deviceId), `${what}: accepted on a device that is not the caller's`);
        assert.match(r.headers.get('location') ?? '', new RegExp(`^/teamwork/devices/${deviceId}/operations/[0-9a-f-]{36}$`));
        assert.equal(created, 1, `${what}: one operation per 202`);
      } else {
        assert.equal(created, 0, `${what}: a refused request (${r.status}) created an operation`);
      }
      if (!aIdSet.has(deviceId)) assert.ok(r.status === 404 || r.status === 400 || r.status === 413 || r.status === 415, `${what}: ${r.status}`);
    }), { numRuns: 200, includeErrorInReport: true });
    t.diagnostic(`statuses: ${JSON.stringify(statuses)}`);
  });

  test('content-type and client-request-id header values: never a 5xx, Graph errors, the id echoed only when it is safe', { timeout: 60_000 }, async (t) => {
    statuses = {};
    // Every byte a client may put in a header value (RFC 9110 field-vchar, obs-text, space, tab).
    const headerChar = fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }), fc.constant(0x09)).map((c) => String.fromCharCode(c));
    const headerValue = fc.string({ unit: headerChar, maxLength: 160 });
    const contentType = fc.oneof(
      headerValue,
      fc.constantFrom('application/json', 'Application/JSON; charset=utf-8', 'application/json;', 'application/jsonx', 'application/json; charset=latin1',
        'text/plain', 'text/json', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', ';', '', 'application/json ; odata.metadata=minimal',
        'application/json, text/plain', '*/*', 'application/*'),
    );
    const clientRequestId = fc.oneof(headerValue, fc.uuid(), fc.constantFrom('', ' ', 'a'.repeat(128), 'a'.repeat(129), '<script>', 'x y'));
    const devices = fc.constantFrom(...aIds.slice(6, 12));
    await fc.assert(fc.asyncProperty(contentType, clientRequestId, devices, fc.constantFrom(...softwareTypes), fc.boolean(),
      async (type, id, deviceId, softwareType, asGet) => {
        const before = await counter.count();
        const headers = new Headers({ 'client-request-id': id });
        let path = `/beta/teamwork/devices/${deviceId}/updateSoftware`;
        let init: RequestInit = { method: 'POST', headers, body: JSON.stringify({ softwareType, softwareVersion: '9.9.9' }) };
        if (asGet) {
          path = `/beta/teamwork/devices/${bIds[1]}`;
          init = { headers };
        } else headers.set('content-type', type);
        const what = `${init.method ?? 'GET'} ${path} content-type ${JSON.stringify(type)} client-request-id ${JSON.stringify(id)}`;
        const r = await reply(await send(path, init), what);
        const created = (await counter.count()) - before;
        assert.equal(created, r.status === 202 ? 1 : 0, `${what}: ${r.status} and ${created} operations`);
        if (asGet) assert.equal(r.status, 404, what);
        else assert.ok([202, 400, 409, 415].includes(r.status), `${what}: ${r.status}`);
        // fetch trims leading and trailing whitespace from header values.
        const sent = id.replace(/^[\t ]+|[\t ]+$/g, '');
        const safe = /^[\x21-\x7e]{1,128}$/.test(sent);
        const echoed = r.headers.get('client-request-id');
        if (safe) assert.equal(echoed, sent, `${what}: echoed`);
        else assert.equal(echoed, null, `${what}: an unsafe client-request-id is not reflected`);
        if (r.error) {
          const inner = r.error.innerError['client-request-id'];
          if (safe) assert.equal(inner, sent, what);
          else assert.match(inner, /^[\x21-\x7e]{1,128}$/, `${what}: innerError client-request-id ${JSON.stringify(inner)}`);
        }
      }), { numRuns: 150, includeErrorInReport: true });
    t.diagnostic(`statuses: ${JSON.stringify(statuses)}`);
  });

  test('$filter, $top, $select and $skiptoken on the device list: 200 or 400, never another tenant\'s device', { timeout: 60_000 }, async (t) => {
    statuses = {};
    const optionName = (name: string) => fc.constantFrom(`$${name}`, name, `$${name.toUpperCase()}`, `%24${name}`);
    const validOptions = fc.record({
      prefix: fc.constantFrom('/beta', ''),
      filter: fc.option(fc.tuple(fc.constantFrom('$filter', 'filter'), validFilterText()), { nil: undefined, freq: 3 }),
      top: fc.option(fc.tuple(fc.constant('$top'), fc.integer({ min: 1, max: 60 }).map(String)), { nil: undefined }),
      select: fc.option(fc.tuple(fc.constant('$select'), fc.subarray([...deviceProperties]).map((names) => ['id', ...names].join(','))), { nil: undefined }),
      skiptoken: fc.constant(undefined),
      forged: fc.option(fc.oneof(fc.constantFrom(...bIds, ...aIds, '', '0', 'z', '\uffff'), anyText) as fc.Arbitrary<unknown>, { nil: undefined }),
      extra: fc.constant(undefined),
    });
    const hostileOptions = fc.record({
      prefix: fc.constantFrom('/beta', ''),
      filter: fc.option(fc.tuple(optionName('filter'), filterText()), { nil: undefined }),
      top: fc.option(fc.tuple(optionName('top'), topText), { nil: undefined }),
      select: fc.option(fc.tuple(optionName('select'), selectText), { nil: undefined }),
      skiptoken: fc.option(fc.tuple(optionName('skiptoken'), fc.oneof(anyText, fc.base64String({ maxLength: 80 }))), { nil: undefined }),
      forged: fc.option(fc.oneof(fc.constantFrom(...bIds, ...aIds.slice(10, 20), '', '\uffff', '0'), anyText, fc.anything()), { nil: undefined }),
      extra: fc.option(fc.tuple(fc.constantFrom('$orderby', '$expand', '$count', '$search', '$skip', '$format', 'tenantId', '__proto__', 'api-version', '$filter'), anyText), { nil: undefined }),
    });
    const options = fc.oneof({ weight: 3, arbitrary: validOptions }, { weight: 2, arbitrary: hostileOptions });
    await fc.assert(fc.asyncProperty(options, async (o) => {
      const params: [string, string][] = [];
      if (o.filter) params.push(o.filter);
      if (o.top) params.push(o.top);
      if (o.select) params.push(o.select);
      if (o.forged !== undefined) params.push(['$skiptoken', forgedSkipToken(o.forged, o.filter ? o.filter[1] : null)]);
      else if (o.skiptoken) params.push(o.skiptoken);
      if (o.extra) params.push(o.extra);
      const encoded = params.map(([name, value]) => [name.startsWith('%24') ? name : encode(name), encode(value)]);
      fc.pre(encoded.every(([n, v]) => n !== null && v !== null));
      const path = `${o.prefix}/teamwork/devices${encoded.length ? '?' : ''}${encoded.map(([n, v]) => `${n}=${v}`).join('&')}`;
      const r = await reply(await send(path), `GET ${path}`);
      assert.ok(r.status === 200 || r.status === 400, `GET ${path}: ${r.status}`);
      if (r.status !== 200) return;
      const page = JSON.parse(r.text) as { value: Record<string, unknown>[]; '@odata.nextLink'?: string };
      assert.ok(Array.isArray(page.value) && page.value.length <= 50, `GET ${path}: a page of at most 50`);
      const ids = page.value.map((d) => d.id).filter((id): id is string => typeof id === 'string');
      for (const id of ids) {
        assert.ok(!bIdSet.has(id), `GET ${path}: tenant B's device ${id} in tenant A's list`);
        assert.ok(aIdSet.has(id), `GET ${path}: unknown device ${id}`);
      }
      // Pages are in id order unless an $orderby, or a lone startswith (its property's order), says otherwise.
      const ordered = o.extra?.[0] === '$orderby' || (o.filter !== undefined && devicePageOrder(parseDeviceFilter(o.filter[1])).length > 0);
      if (!ordered) assert.deepEqual(ids, [...ids].sort(), `GET ${path}: ordered by id`);
      if (typeof o.forged === 'string' && ids.length && !ordered) assert.ok(ids[0] > o.forged, `GET ${path}: keyset position honoured`);
      const next = page['@odata.nextLink'];
      if (next) {
        assert.ok(next.startsWith(`${server.url}${o.prefix}/teamwork/devices?`), `nextLink ${next}`);
        const following = await reply(await send(next), `GET nextLink ${next}`);
        assert.equal(following.status, 200, `GET nextLink ${next} (from ${path})`);
        const more = (JSON.parse(following.text) as { value: { id?: string }[] }).value.map((d) => d.id).filter((id): id is string => typeof id === 'string');
        for (const id of more) assert.ok(aIdSet.has(id), `nextLink ${next}: ${id}`);
        if (ids.length && more.length && !ordered) assert.ok(more[0] > ids[ids.length - 1], `nextLink ${next}: continues after the page`);
        for (const id of more) assert.ok(!ids.includes(id), `nextLink ${next}: ${id} again`);
      }
    }), { numRuns: 200, includeErrorInReport: true });
    t.diagnostic(`statuses: ${JSON.stringify(statuses)}`);
    assert.ok((statuses[200] ?? 0) > 0, 'no request was answered 200: the tenant checks never ran');
  });

  test('$top, $select and $skiptoken on operations and single entities: never another device\'s or tenant\'s operation', { timeout: 60_000 }, async (t) => {
    statuses = {};
    const position = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(1e308, -1, 0, Number.MAX_SAFE_INTEGER + 2, '1', null), anyText);
    const target = fc.constantFrom(aOperation.deviceId, bOperation.deviceId, aIds[30]);
    const kind = fc.constantFrom('operations', 'device', 'health', 'activity', 'configuration', 'operation');
    const select = fc.oneof(
      fc.array(fc.constantFrom(...operationProperties, ...deviceProperties, 'softwareVersions', 'connection', 'ID', ''), { maxLength: 4 }).map((n) => n.join(',')),
      anyText,
    );
    const top = fc.oneof(fc.integer({ min: 1, max: 60 }).map(String), topText);
    const validSelect = (names: readonly string[]) => fc.subarray([...names], { minLength: 1 }).map((n) => n.join(','));
    const anySelect = fc.oneof({ weight: 2, arbitrary: fc.oneof(validSelect(operationProperties), validSelect(deviceProperties)) }, { weight: 1, arbitrary: select });
    await fc.assert(fc.asyncProperty(target, kind, fc.option(top, { nil: undefined }), fc.option(anySelect, { nil: undefined }),
      fc.option(fc.oneof(position.map((p) => forgedSkipToken(p, null)), anyText), { nil: undefined }), fc.boolean(),
      async (deviceId, what, top, sel, skiptoken, onlyOptionsOfTheRoute) => {
        const params = [['$top', top], ['$select', sel], ['$skiptoken', skiptoken]]
          .filter((p): p is [string, string] => p[1] !== undefined)
          // Half the time only what the route takes ($top and $skiptoken are for the operations list).
          .filter(([name]) => !onlyOptionsOfTheRoute || what === 'operations' || name === '$select')
          .map(([n, v]) => `${n}=${encode(v)}`);
        fc.pre(params.every((p) => !p.endsWith('=null')));
        const base = {
          operations: `/beta/teamwork/devices/${deviceId}/operations`,
          operation: `/beta/teamwork/devices/${deviceId}/operations/${deviceId === bOperation.deviceId ? bOperation.id : aOperation.id}`,
          device: `/beta/teamwork/devices/${deviceId}`,
          health: `/beta/teamwork/devices/${deviceId}/health`,
          activity: `/beta/teamwork/devices/${deviceId}/activity`,
          configuration: `/beta/teamwork/devices/${deviceId}/configuration`,
        }[what];
        const query = `${params.length ? '?' : ''}${params.join('&')}`;
        const path = `${base}${query}`;
        const r = await reply(await send(path), `GET ${path}`);
        assert.ok([200, 400, 404].includes(r.status), `GET ${path}: ${r.status}`);
        if (deviceId === bOperation.deviceId) {
          // Another tenant's device answers exactly as a device that does not exist.
          const unknown = base.replaceAll(bOperation.deviceId, randomUUID()).replace(bOperation.id, randomUUID());
          const twin = await reply(await send(`${unknown}${query}`), `GET ${unknown}${query}`);
          assert.equal(r.status, twin.status, `GET ${path}: tenant B's device is told apart from an unknown one`);
          assert.equal(r.error?.code, twin.error?.code, `GET ${path}`);
        }
        if (r.status !== 200) return;
        assert.ok(!r.text.includes(bOperation.id) && !r.text.includes(bOperation.deviceId), `GET ${path}: tenant B's data`);
        if (what === 'operations') {
          const ids = (JSON.parse(r.text) as { value: { id?: string }[] }).value.map((op) => op.id).filter(Boolean);
          for (const id of ids) assert.equal(id, deviceId === aOperation.deviceId ? aOperation.id : undefined, `GET ${path}: operation ${id}`);
        }
      }), { numRuns: 150, includeErrorInReport: true });
    t.diagnostic(`statuses: ${JSON.stringify(statuses)}`);
    assert.ok((statuses[200] ?? 0) > 0, 'no request was answered 200: the tenant checks never ran');
  });

  test('ids in paths: never a 5xx, Graph errors, another tenant\'s device is a 404, nothing is created', { timeout: 60_000 }, async (t) => {
    statuses = {};
    const id = fc.oneof(
      { weight: 3, arbitrary: anyText },
      { weight: 1, arbitrary: fc.uuid() },
      { weight: 1, arbitrary: fc.constantFrom(...bIds.slice(0, 5), bOperation.id, aIds[40], aIds[40].toUpperCase(), ` ${aIds[40]}`, `${aIds[40]}\n`) },
      { weight: 1, arbitrary: fc.constantFrom("'", "')", '..', '.', '%', '%25', "' or '1'='1", '$metadata', 'null', '*', '__proto__', 'constructor', 'a/b', '\\', '😀', '\u202e', 'x'.repeat(100), 'x'.repeat(5000)) },
    );
    const routes: [string, (d: string, o: string) => string][] = [
      ['GET', (d) => `/beta/teamwork/devices/${d}`],
      ['GET', (d) => `/beta/teamwork/devices('${d}')`],
      ['GET', (d) => `/teamwork/devices/${d}/health`],
      ['GET', (d) => `/beta/teamwork/devices/${d}/configuration`],
      ['GET', (d) => `/beta/teamwork/devices/${d}/operations`],
      ['GET', (d, o) => `/beta/teamwork/devices/${d}/operations/${o}`],
      ['GET', (d, o) => `/beta/teamwork/devices/${d}/operations/${o}/result`],
      ['POST', (d) => `/beta/teamwork/devices/${d}/restart`],
      ['POST', (d) => `/beta/teamwork/devices('${d}')/runDiagnostics`],
      ['POST', (d, o) => `/beta/teamwork/devices/${d}/operations/${o}/cancel`],
      ['PUT', (d) => `/beta/teamwork/devices/${d}`],
    ];
    const operation = fc.oneof(anyText, fc.constantFrom(aOperation.id, bOperation.id), fc.uuid());
    await fc.assert(fc.asyncProperty(id, operation, fc.nat(routes.length - 1), async (deviceId, operationId, route) => {
      const [d, o] = [encode(deviceId), encode(operationId)];
      // (fetch resolves dot segments itself: '.' and '..' never reach the server as ids.)
      fc.pre(d !== null && o !== null && d.length > 0 && o.length > 0 && !/^\.{1,2}$/.test(deviceId) && !/^\.{1,2}$/.test(operationId));
      const [method, pathOf] = routes[route];
      const path = pathOf(d!, o!);
      const before = await counter.count();
      const r = await reply(await send(path, { method }), `${method} ${path}`);
      const created = (await counter.count()) - before;
      assert.ok(r.status !== 202 || aIdSet.has(deviceId), `${method} ${path}: accepted on a device that is not the caller's`);
      assert.equal(created, r.status === 202 ? 1 : 0, `${method} ${path}: ${r.status} and ${created} operations`);
      if (bIdSet.has(deviceId)) {
        // Another tenant's device answers exactly as a device that does not exist.
        const unknown = pathOf(randomUUID(), o!);
        const twin = await reply(await send(unknown, { method }), `${method} ${unknown}`);
        assert.equal(r.status, twin.status, `${method} ${path}: tenant B's device is told apart from an unknown one`);
        assert.equal(r.error?.code, twin.error?.code, `${method} ${path}`);
        assert.notEqual(r.status, 403, `${method} ${path}: 404, never 403`);
      }
      if (r.status === 200) {
        assert.ok(!r.text.includes(bOperation.id) && !bIds.some((b) => r.text.includes(b)), `${method} ${path}: tenant B's data`);
      }
      if (r.status === 200 || r.status === 202) assert.ok(aIdSet.has(deviceId), `${method} ${path}: ${r.status} for an id that is no device of the caller`);
    }), { numRuns: 200, includeErrorInReport: true });
    t.diagnostic(`statuses: ${JSON.stringify(statuses)}`);
  });
});

describe('hostile input: edges the generators do not reach', () => {
  test('U+0000 in ids and $filter literals is a 4xx, not a 500', async () => {
    const paths: [string, string][] = [
      ['GET', `/beta/teamwork/devices?$filter=${encodeURIComponent("notes eq 'a\u0000b'")}`],
      ['GET', '/beta/teamwork/devices/%00'],
      ['GET', `/beta/teamwork/devices/${aIds[0]}/operations/a%00b`],
      ['POST', '/beta/teamwork/devices/a%00b/restart'],
      ['GET', `/beta/teamwork/devices?$skiptoken=${forgedSkipToken('a\u0000', null)}`],
    ];
    for (const [method, path] of paths) {
      const r = await reply(await send(path, { method }), `${method} ${path}`);
      assert.ok([200, 400, 404].includes(r.status), `${method} ${path}: ${r.status}`);
    }
  });

  test('framework-level rejections (malformed percent-encoding, a path segment over 100 characters) get the Graph error body', async () => {
    const paths = [
      '/beta/teamwork/devices/%zz',
      '/beta/teamwork/devices/%E0%A4%A',
      `/beta/teamwork/devices/${aIds[0]}/operations/50%`,
      `/beta/teamwork/devices/${'x'.repeat(101)}`,
      `/beta/teamwork/devices/${aIds[0]}/operations/${'0'.repeat(200)}`,
    ];
    for (const path of paths) {
      const r = await reply(await send(path), `GET ${path}`);
      assert.ok(r.status === 400 || r.status === 404, `GET ${path}: ${r.status}`);
    }
  });

  test('a request the HTTP parser rejects (control characters in a header, headers over 16 KiB) gets the Graph error body', async () => {
    const port = Number(new URL(server.url).port);
    const cases: [string, number][] = [
      ['client-request-id: a\u0001b', 400], ['client-request-id: x\u007f', 400], ['client-request-id: a\u0000b', 400], ['x-custom: a\nb: c', 400],
      [`x-custom: ${'a'.repeat(20_000)}`, 431],
    ];
    for (const [header, status] of cases) {
      const raw = await new Promise<string>((done) => {
        const socket = net.connect(port, '127.0.0.1');
        let text = '';
        socket.on('data', (chunk) => (text += chunk.toString('latin1')));
        socket.on('close', () => done(text));
        socket.on('error', () => done(text));
        socket.end(`GET /beta/teamwork/devices HTTP/1.1\r\nHost: x\r\n${header}\r\nConnection: close\r\n\r\n`, 'latin1');
      });
      const what = `${JSON.stringify(header.slice(0, 40))} → ${raw.slice(0, 300)}`;
      assert.match(raw, new RegExp(`^HTTP/1\\.1 ${status} `), what);
      assert.match(raw, /\r\nrequest-id: /i, what);
      const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
      assert.equal((JSON.parse(body) as { error?: { code?: string } }).error?.code, 'invalidRequest', what);
    }
  });

  test('an unencoded \'?\' inside a query value keeps @odata.nextLink usable', async () => {
    const r = await reply(await send("/beta/teamwork/devices?$top=2&$filter=notes ne 'a?b'"), 'GET with a raw ?');
    assert.equal(r.status, 200);
    const next = (JSON.parse(r.text) as { '@odata.nextLink'?: string })['@odata.nextLink'];
    assert.ok(next, 'a nextLink');
    const following = await reply(await send(next), `GET ${next}`);
    assert.equal(following.status, 200, following.text);
    assert.equal((JSON.parse(following.text) as { value: unknown[] }).value.length, 2);
  });
});
