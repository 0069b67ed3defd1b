import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BatchRequestContent, BatchResponseContent, Client, HTTPMessageHandler, type Context, type Middleware } from '@microsoft/microsoft-graph-client';
import fc from 'fast-check';
import { errorRegistry } from '../../src/domain/errors.js';
import { deviceIds, expectGraphError, isIsoDate } from '../helpers/http-assertions.js';
import { testVersions } from '../helpers/test-catalog.js';
import { postJson, startTestServer, tenantA, tenantB, type TestServer } from '../helpers/test-server.js';

/**
 * JSON batching (`POST /$batch`, `/beta/$batch`) over real HTTP: the official Graph JavaScript
 * client's BatchRequestContent and BatchResponseContent, urls as clients write them, each
 * request with the routing, auth, validation, throttling and error bodies of a direct one,
 * dependsOn and 424, every malformed batch a 400 that runs nothing, links that work outside
 * the batch, and hostile batches that never cause a 5xx.
 */

interface SubResponse {
  id: string | number;
  status: number;
  headers: Record<string, string>;
  body?: Record<string, any>;
}

interface Page {
  '@odata.context': string;
  '@odata.nextLink'?: string;
  value: { id: string; deviceType?: string }[];
}

/** Versions the test catalog offers every device (updateSoftware is a 404 for any other). */
const offered = { teamsClient: ['1.0.96.22', '1.0.96.2024061103'], firmware: ['7.0.1'] };

let server: TestServer;
let devices: string[] = [];
/** devices[0..9] are only read; the rest are handed out by freshDevice */
let nextDevice = 10;
let tenantBDevice: string;
/** A device no other test has touched (each test that creates operations takes its own). */
const freshDevice = () => {
  const id = devices[nextDevice++];
  assert.ok(id, 'ran out of seeded devices: raise devicesA');
  return id;
};

before(async () => {
  server = await startTestServer({ devicesA: 40, devicesB: 3 });
  devices = await deviceIds(server, 40);
  for (const versions of Object.values(offered)) for (const version of versions) assert.ok(testVersions.includes(version), version);
  const page = (await (await server.request('/beta/teamwork/devices?$top=1', { token: await server.token({ tenantId: tenantB }) })).json()) as Page;
  tenantBDevice = page.value[0].id;
});

after(async () => {
  await server?.stop();
});

/** POSTs a batch body (anything: tests send malformed ones too). */
function postBatch(body: unknown, options: { path?: string; token?: string | null; headers?: Record<string, string>; on?: TestServer } = {}) {
  return postJson(options.on ?? server, options.path ?? '/beta/$batch', body, { token: options.token, headers: options.headers });
}

/** Sends a batch that must be accepted (200) and returns its responses by id, checking their shape. */
async function runBatch(requests: unknown[], options: Parameters<typeof postBatch>[1] = {}): Promise<Map<string | number, SubResponse>> {
  const response = await postBatch({ requests }, options);
  const text = await response.text();
  assert.equal(response.status, 200, text);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  const body = JSON.parse(text) as { responses: SubResponse[] };
  assert.deepEqual(Object.keys(body), ['responses']);
  assert.equal(body.responses.length, requests.length, 'one response per request');
  const byId = new Map<string | number, SubResponse>();
  for (const sub of body.responses) {
    assert.equal(typeof sub.status, 'number');
    assert.equal(typeof sub.headers, 'object', 'headers is an object');
    assert.ok(!Array.isArray(sub.headers));
    // Every request was run (or refused) as a request of its own.
    assert.match(sub.headers['request-id'] ?? '', /^[0-9a-f-]{36}$/, JSON.stringify(sub));
    assert.notEqual(sub.headers['request-id'], response.headers.get('request-id'));
    byId.set(sub.id, sub);
  }
  return byId;
}

/** Asserts a sub-response is a Graph error of this status and code; returns the error. */
function expectSubError(sub: SubResponse | undefined, status: number, code: string): { code: string; message: string; innerError: Record<string, string> } {
  assert.ok(sub, 'the sub-response exists');
  assert.equal(sub.status, status, JSON.stringify(sub));
  assert.match(sub.headers['Content-Type'] ?? '', /^application\/json/);
  const error = sub.body?.error;
  assert.deepEqual(Object.keys(sub.body ?? {}), ['error']);
  assert.equal(error.code, code);
  assert.ok(typeof error.message === 'string' && error.message.length > 0);
  assert.ok(isIsoDate(error.innerError.date));
  assert.equal(error.innerError['request-id'], sub.headers['request-id']);
  return error;
}

/** Expects the whole batch refused: 400 invalidRequest whose message matches. */
async function expectMalformed(body: unknown, message: RegExp): Promise<void> {
  const response = await postBatch(body);
  const error = await expectGraphError(response, 400, 'invalidRequest');
  assert.match(error.message, message);
}

async function operationCount(deviceId: string): Promise<number> {
  return (await server.query('SELECT id FROM operations WHERE device_id = ?', [deviceId])).length;
}

const updateRequest = (id: string, deviceId: string, extra: Record<string, unknown> = {}) => ({
  id,
  method: 'POST',
  url: `/teamwork/devices/${deviceId}/updateSoftware`,
  headers: { 'Content-Type': 'application/json' },
  body: { softwareType: 'teamsClient', softwareVersion: offered.teamsClient[0] },
  ...extra,
});

/** Adds the bearer token: the client's own AuthenticationHandler sends tokens to https Graph hosts only. */
function bearer(token: string): Middleware {
  let next: Middleware | undefined;
  return {
    async execute(context: Context) {
      const headers = new Headers(context.options?.headers as HeadersInit | undefined);
      headers.set('authorization', `Bearer ${token}`);
      context.options = { ...context.options, headers };
      await next!.execute(context);
    },
    setNext(middleware: Middleware) {
      next = middleware;
    },
  };
}

describe('the Graph JavaScript client (BatchRequestContent, BatchResponseContent)', () => {
  let client: Client;

  before(async () => {
    client = Client.initWithMiddleware({ baseUrl: server.url, defaultVersion: 'beta', middleware: [bearer(await server.token()), new HTTPMessageHandler()] });
  });

  test('a parallel batch of lists per device type, reads and updateSoftware calls', async () => {
    const [read1, read2, update1, update2] = [freshDevice(), freshDevice(), freshDevice(), freshDevice()];
    const types = ['teamsRoom', 'ipPhone'];
    const post = (deviceId: string, version: string) =>
      new Request(`${server.url}/teamwork/devices/${deviceId}/updateSoftware`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ softwareType: 'teamsClient', softwareVersion: version }),
      });
    const batch = new BatchRequestContent([
      ...types.map((type) => ({ id: `list-${type}`, request: new Request(`${server.url}/teamwork/devices?$filter=deviceType eq '${type}'&$top=5`) })),
      { id: 'read-1', request: new Request(`${server.url}/teamwork/devices/${read1}`) },
      { id: 'read-2', request: new Request(`${server.url}/teamwork/devices/${read2}?$select=id,deviceType`) },
      { id: 'health-1', request: new Request(`${server.url}/teamwork/devices/${read1}/health`) },
      { id: 'update-1', request: post(update1, offered.teamsClient[0]) },
      { id: 'update-2', request: post(update2, offered.teamsClient[1]) },
    ]);
    const reply = await client.api('/$batch').post(await batch.getContent());
    const responses = new BatchResponseContent(reply);
    assert.equal(responses.getResponses().size, 7);

    for (const type of types) {
      const list = responses.getResponseById(`list-${type}`);
      assert.equal(list.status, 200);
      const page = (await list.json()) as Page;
      assert.ok(page.value.every((d) => d.deviceType === type), JSON.stringify(page.value));
      // The same list asked directly: the same devices.
      const direct = (await (await server.request(`/beta/teamwork/devices?$filter=deviceType eq '${type}'&$top=5`)).json()) as Page;
      assert.deepEqual(page.value.map((d) => d.id), direct.value.map((d) => d.id));
    }
    const read = responses.getResponseById('read-1');
    assert.equal(read.status, 200);
    assert.equal(((await read.json()) as { id: string }).id, read1);
    assert.deepEqual(Object.keys((await responses.getResponseById('read-2').json()) as object).sort(), ['@odata.context', '@odata.type', 'deviceType', 'id']);
    assert.equal(responses.getResponseById('health-1').status, 200);

    for (const [id, deviceId] of [['update-1', update1], ['update-2', update2]]) {
      const accepted = responses.getResponseById(id);
      assert.equal(accepted.status, 202);
      assert.equal(await accepted.text(), '');
      const location = accepted.headers.get('location');
      assert.match(location ?? '', new RegExp(`^/teamwork/devices/${deviceId}/operations/[^/]+$`));
      const operation = await server.request(location!);
      assert.equal(operation.status, 200);
      assert.equal(((await operation.json()) as { status: string }).status, 'queued');
    }
  });

  test('a serial batch (dependsOn): the 202 then the same update again is a 409, and what depends on the 409 is a 424', async () => {
    const deviceId = freshDevice();
    const update = () =>
      new Request(`${server.url}/teamwork/devices/${deviceId}/updateSoftware`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ softwareType: 'firmware', softwareVersion: offered.firmware[0] }),
      });
    const batch = new BatchRequestContent([
      { id: '1', request: new Request(`${server.url}/teamwork/devices/${deviceId}`) },
      { id: '2', request: update(), dependsOn: ['1'] },
      { id: '3', request: update(), dependsOn: ['2'] },
      { id: '4', request: new Request(`${server.url}/teamwork/devices/${deviceId}/operations`), dependsOn: ['3'] },
    ]);
    const responses = new BatchResponseContent(await client.api('/$batch').post(await batch.getContent()));
    assert.equal(responses.getResponseById('1').status, 200);
    assert.equal(responses.getResponseById('2').status, 202);
    const conflict = responses.getResponseById('3');
    assert.equal(conflict.status, 409);
    assert.equal(((await conflict.json()) as { error: { code: string } }).error.code, 'conflict');
    const failed = responses.getResponseById('4');
    assert.equal(failed.status, 424);
    const error = ((await failed.json()) as { error: { code: string; message: string } }).error;
    assert.equal(error.code, 'failedDependency');
    assert.match(error.message, /'3'.*409/);
    assert.equal(await operationCount(deviceId), 1, 'the 409 created nothing');
  });
});

describe('requests as clients write them', () => {
  test("urls with and without a leading slash, spaces and quotes unencoded, devices('id'), numeric ids echoed as sent; bodies equal a direct request's", async () => {
    const [a, b] = [devices[0], devices[1]];
    const responses = await runBatch([
      { id: 1, method: 'GET', url: `/teamwork/devices/?$filter=deviceType eq 'teamsRoom' or deviceType eq 'ipPhone'&$top=3&$select=id,deviceType` },
      { id: 'two', method: 'get', url: `teamwork/devices('${a}')?$select=id,deviceType,hardwareDetail` },
      { id: 'three', method: 'GET', url: `/teamwork/devices/${b}/activity` },
    ]);
    assert.deepEqual([...responses.keys()], [1, 'two', 'three'], 'ids echoed as sent, in request order');
    const list = responses.get(1)!;
    assert.equal(list.status, 200);
    assert.match(list.headers['Content-Type'], /^application\/json/);
    const page = list.body as Page;
    assert.ok(page.value.length > 0 && page.value.every((d) => d.deviceType === 'teamsRoom' || d.deviceType === 'ipPhone'));

    const direct = await server.request(`/beta/teamwork/devices/${a}?$select=id,deviceType,hardwareDetail`);
    assert.deepEqual(responses.get('two')!.body, await direct.json());
    const activity = await server.request(`/beta/teamwork/devices/${b}/activity`);
    assert.deepEqual(responses.get('three')!.body, await activity.json());
    assert.equal(responses.get('two')!.body!['@odata.context'], `${server.url}/beta/$metadata#teamwork/devices(id,deviceType,hardwareDetail)/$entity`);
  });

  test('POST /$batch (no version): urls are relative to it, and links have no /beta', async () => {
    const responses = await runBatch([{ id: '1', method: 'GET', url: `/teamwork/devices/${devices[2]}` }], { path: '/$batch' });
    assert.equal(responses.get('1')!.status, 200);
    assert.equal(responses.get('1')!.body!['@odata.context'], `${server.url}/$metadata#teamwork/devices/$entity`);
  });

  test('a 202 keeps its Location and has no body (an action with a JSON body, without one, with {}); a body that is not JSON is a 415 of that request only', async () => {
    const deviceId = freshDevice();
    const responses = await runBatch([
      updateRequest('accepted', deviceId),
      { id: 'restart', method: 'POST', url: `/teamwork/devices/${deviceId}/microsoft.graph.restart` },
      { id: 'diagnostics', method: 'POST', url: `/teamwork/devices/${deviceId}/runDiagnostics`, headers: { 'Content-Type': 'application/json' }, body: {} },
      { id: 'text', method: 'POST', url: `/teamwork/devices/${deviceId}/restart`, headers: { 'content-type': 'text/plain' }, body: Buffer.from('reboot').toString('base64') },
    ]);
    const accepted = responses.get('accepted')!;
    assert.equal(accepted.status, 202);
    assert.equal('body' in accepted, false, 'a 202 has no body');
    assert.match(accepted.headers.Location, new RegExp(`^/teamwork/devices/${deviceId}/operations/`));
    for (const id of ['restart', 'diagnostics']) {
      assert.equal(responses.get(id)!.status, 202, JSON.stringify(responses.get(id)));
      assert.equal('body' in responses.get(id)!, false);
    }
    expectSubError(responses.get('text'), 415, 'unsupportedMediaType');
    assert.equal(await operationCount(deviceId), 3);
  });

  test('client-request-id: a request\'s own is echoed, else the batch\'s', async () => {
    const responses = await runBatch(
      [
        { id: 'own', method: 'GET', url: `/teamwork/devices/${devices[3]}`, headers: { 'client-request-id': 'sub-request-7' } },
        { id: 'inherited', method: 'GET', url: '/teamwork/devices/no-such-device' },
        { id: 'dependent', method: 'GET', url: `/teamwork/devices/${devices[3]}`, dependsOn: ['inherited'], headers: { 'client-request-id': 'sub-request-8' } },
      ],
      { headers: { 'client-request-id': 'batch-42' } },
    );
    assert.equal(responses.get('own')!.headers['client-request-id'], 'sub-request-7');
    const notFound = expectSubError(responses.get('inherited'), 404, 'itemNotFound');
    assert.equal(notFound.innerError['client-request-id'], 'batch-42');
    assert.equal(expectSubError(responses.get('dependent'), 424, 'failedDependency').innerError['client-request-id'], 'sub-request-8');
  });
});

describe('@odata.nextLink in a sub-response', () => {
  test('is absolute, identical to a direct request\'s, and directly GETtable', async () => {
    const path = "/teamwork/devices?$filter=deviceType ne 'unknown'&$top=4&$select=id";
    const responses = await runBatch([{ id: 'page', method: 'GET', url: path }]);
    const page = responses.get('page')!.body as Page;
    const direct = (await (await server.request(`/beta${path}`)).json()) as Page;
    assert.ok(page['@odata.nextLink'], 'a nextLink');
    assert.equal(page['@odata.nextLink'], direct['@odata.nextLink']);
    assert.ok(page['@odata.nextLink']!.startsWith(`${server.url}/beta/teamwork/devices?`), page['@odata.nextLink']);
    const next = await server.request(page['@odata.nextLink']!);
    assert.equal(next.status, 200);
    const second = (await next.json()) as Page;
    assert.equal(second.value.length, 4);
    assert.equal(new Set([...page.value, ...second.value].map((d) => d.id)).size, 8, 'the second page follows the first');
    // The link, made relative to the version, also works inside a batch.
    const again = await runBatch([{ id: 'next', method: 'GET', url: page['@odata.nextLink']!.slice(`${server.url}/beta`.length) }]);
    assert.deepEqual(again.get('next')!.body, second);
  });

  test('a batch\'s X-Forwarded-* from a peer that is not a trusted proxy, and a request\'s own Host or X-Forwarded-*, change no link', async () => {
    const responses = await runBatch(
      [{ id: '1', method: 'GET', url: '/teamwork/devices?$top=1', headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' } }],
      { headers: { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' } },
    );
    assert.ok((responses.get('1')!.body as Page)['@odata.nextLink']!.startsWith(`${server.url}/beta/`));
  });
});

describe('routing, tenants and errors inside a batch', () => {
  test('a path this service does not serve is a 404 of that request, the agent protocol included; another tenant\'s device is a 404; a method the path lacks is a 405', async () => {
    const responses = await runBatch(
      [
        { id: 'user', method: 'GET', url: '/users/0b7e2c4d-9a1f-4e3b-8c5d-6f7a8b9c0d1e' },
        { id: 'agent', method: 'GET', url: '/agent/v1/work' },
        { id: 'other-tenant', method: 'GET', url: `/teamwork/devices/${tenantBDevice}` },
        updateRequest('other-tenant-update', tenantBDevice),
        { id: 'method', method: 'PATCH', url: '/teamwork/devices' },
        { id: 'fine', method: 'GET', url: `/teamwork/devices/${devices[4]}` },
      ],
      { path: '/$batch' },
    );
    expectSubError(responses.get('user'), 404, 'itemNotFound');
    expectSubError(responses.get('agent'), 404, 'itemNotFound');
    expectSubError(responses.get('other-tenant'), 404, 'itemNotFound');
    expectSubError(responses.get('other-tenant-update'), 404, 'itemNotFound');
    expectSubError(responses.get('method'), 405, 'methodNotAllowed');
    assert.match(responses.get('method')!.headers.Allow, /GET/);
    assert.equal(responses.get('fine')!.status, 200);
    assert.equal(await operationCount(tenantBDevice), 0);
  });

  test('validation is each request\'s: a bad $filter, $top or action body is a 400 of that request', async () => {
    const deviceId = freshDevice();
    const responses = await runBatch([
      { id: 'filter', method: 'GET', url: "/teamwork/devices?$filter=madeUp eq 'x'" },
      { id: 'top', method: 'GET', url: '/teamwork/devices?$top=0' },
      { id: 'body', method: 'POST', url: `/teamwork/devices/${deviceId}/updateSoftware`, headers: { 'content-type': 'application/json' }, body: { softwareType: 'teamsClient', extra: 1 } },
    ]);
    assert.match(expectSubError(responses.get('filter'), 400, 'invalidRequest').message, /madeUp/);
    expectSubError(responses.get('top'), 400, 'invalidRequest');
    assert.match(expectSubError(responses.get('body'), 400, 'invalidRequest').message, /extra/);
    assert.equal(await operationCount(deviceId), 0);
  });
});

describe('the other query options and the catalog inside a batch', () => {
  test("$count (text/plain, so base64 as Graph sends bodies that are not JSON), $count=true, $orderby, $expand: each the direct request's answer", async () => {
    const paths = ["/teamwork/devices/$count?$filter=deviceType eq 'teamsRoom'", '/teamwork/devices?$count=true&$top=2&$orderby=displayName desc&$select=id', `/teamwork/devices/${devices[8]}?$expand=health($select=connection)`];
    const responses = await runBatch(paths.map((url, i) => ({ id: String(i), method: 'GET', url })));
    const count = responses.get('0')!;
    assert.equal(count.status, 200, JSON.stringify(count));
    assert.match(count.headers['Content-Type'], /^text\/plain/);
    const direct = await server.request(`/beta${paths[0]}`);
    assert.equal(Buffer.from(count.body as unknown as string, 'base64').toString('utf8'), await direct.text());
    for (const i of [1, 2]) {
      const sub = responses.get(String(i))!;
      assert.equal(sub.status, 200, JSON.stringify(sub));
      assert.deepEqual(sub.body, await (await server.request(`/beta${paths[i]}`)).json());
    }
    assert.equal(typeof responses.get('1')!.body!['@odata.count'], 'number');
  });

  test('a version the catalog does not offer is a 404 of that request, and what depends on it a 424; nothing is queued', async () => {
    const deviceId = freshDevice();
    const responses = await runBatch([
      updateRequest('unoffered', deviceId, { body: { softwareType: 'teamsClient', softwareVersion: '0.0.0.1' } }),
      { id: 'after', method: 'GET', url: `/teamwork/devices/${deviceId}/operations`, dependsOn: ['unoffered'] },
    ]);
    assert.match(expectSubError(responses.get('unoffered'), 404, 'itemNotFound').message, /0\.0\.0\.1/);
    expectSubError(responses.get('after'), 424, 'failedDependency');
    assert.equal(await operationCount(deviceId), 0);
  });
});

describe('dependsOn', () => {
  test('runs a request after what it depends on; a failed dependency (and what depends on it, transitively) is a 424; independent requests still run', async () => {
    const deviceId = freshDevice();
    const responses = await runBatch([
      { id: 'list', method: 'GET', url: `/teamwork/devices/${deviceId}/operations`, dependsOn: ['update'] },
      updateRequest('update', deviceId),
      { id: 'missing', method: 'GET', url: '/teamwork/devices/no-such-device' },
      { id: 'after-missing', method: 'GET', url: `/teamwork/devices/${deviceId}`, dependsOn: ['MISSING'] },
      { id: 'after-after', method: 'GET', url: `/teamwork/devices/${deviceId}`, dependsOn: ['after-missing', 'update'] },
      { id: 'independent', method: 'GET', url: `/teamwork/devices/${deviceId}` },
    ]);
    assert.equal(responses.get('update')!.status, 202);
    const operations = responses.get('list')!.body as { value: { id: string }[] };
    assert.equal(operations.value.length, 1, 'the list ran after the update it depends on');
    assert.ok(responses.get('update')!.headers.Location.endsWith(operations.value[0].id));
    expectSubError(responses.get('missing'), 404, 'itemNotFound');
    assert.match(expectSubError(responses.get('after-missing'), 424, 'failedDependency').message, /'missing'.*404/);
    assert.match(expectSubError(responses.get('after-after'), 424, 'failedDependency').message, /'after-missing'.*424/);
    assert.equal(responses.get('independent')!.status, 200);
  });
});

describe('many batches at once', () => {
  test('8 batches of 20 (some chained by dependsOn) sent together all finish, every read a 200', async () => {
    const batches = Array.from({ length: 8 }, (_, b) =>
      Array.from({ length: 20 }, (_, i) => ({
        id: `r${i}`,
        method: 'GET',
        url: `/teamwork/devices/${devices[(b + i) % 10]}?$select=id`,
        ...(b % 2 === 1 && i > 0 ? { dependsOn: [`r${i - 1}`] } : {}),
      })),
    );
    const results = await Promise.all(batches.map((requests) => runBatch(requests)));
    for (const [b, responses] of results.entries()) {
      for (const [i, sub] of [...responses.values()].entries()) {
        assert.equal(sub.status, 200, JSON.stringify(sub));
        assert.equal(sub.body!.id, devices[(b + i) % 10]);
      }
    }
  });
});

describe('a malformed batch is a 400 naming the problem, and runs nothing', () => {
  const get = (id: unknown, extra: Record<string, unknown> = {}) => ({ id, method: 'GET', url: `/teamwork/devices/${devices[5]}`, ...extra });

  test('not JSON, no requests, not an array, empty, more than 20', async () => {
    await expectMalformed('{"requests": [', /not valid JSON/);
    await expectMalformed({}, /'requests'/);
    await expectMalformed([get('1')], /'requests'/);
    await expectMalformed({ requests: { id: '1' } }, /must be an array/);
    await expectMalformed({ requests: [] }, /empty/);
    await expectMalformed({ requests: Array.from({ length: 21 }, (_, i) => get(String(i))) }, /21 requests; at most 20/);
    await expectMalformed({ requests: [get('1'), 'GET /teamwork/devices'] }, /Request 2 of the batch is not a JSON object/);
  });

  test('ids: missing, not a string or number, duplicates (ignoring case, a number and its digits)', async () => {
    await expectMalformed({ requests: [{ method: 'GET', url: '/teamwork/devices' }] }, /Request 1 of the batch has no 'id'/);
    await expectMalformed({ requests: [get('')] }, /no 'id'/);
    await expectMalformed({ requests: [get({ x: 1 })] }, /neither a string nor a number/);
    await expectMalformed({ requests: [get('a'), get('A')] }, /'A' appears more than once/);
    await expectMalformed({ requests: [get(1), get('1')] }, /'1' appears more than once/);
  });

  test('method and url: missing, unknown method, absolute url, control characters, a nested $batch', async () => {
    await expectMalformed({ requests: [{ id: '1', url: '/teamwork/devices' }] }, /'1' of the batch has no 'method'/);
    await expectMalformed({ requests: [{ id: '1', method: 'GET' }] }, /'1' of the batch has no 'url'/);
    await expectMalformed({ requests: [{ id: '1', method: 'GET', url: '' }] }, /no 'url'/);
    await expectMalformed({ requests: [get('1', { method: 'BREW' })] }, /'BREW' is not one of GET, POST, PUT, PATCH, DELETE/);
    await expectMalformed({ requests: [get('1', { url: `${server.url}/beta/teamwork/devices` })] }, /relative to the version/);
    await expectMalformed({ requests: [get('1', { url: '/teamwork/devices\r\nx-evil: 1' })] }, /control characters/);
    for (const url of ['/$batch', '$batch', '/$BATCH/', '/%24batch', '/beta/$batch']) {
      await expectMalformed({ requests: [get('1'), { id: '2', method: 'POST', url, headers: { 'content-type': 'application/json' }, body: { requests: [] } }] }, /batches cannot be nested/);
    }
  });

  test('headers and bodies: a body without Content-Type, headers that are not an object or not text', async () => {
    const deviceId = freshDevice();
    await expectMalformed({ requests: [updateRequest('1', deviceId, { headers: undefined })] }, /'1' has a body but no Content-Type header/);
    await expectMalformed({ requests: [updateRequest('1', deviceId, { headers: { accept: 'application/json' } })] }, /no Content-Type/);
    await expectMalformed({ requests: [get('1', { headers: ['content-type: application/json'] })] }, /'headers' must be a JSON object/);
    await expectMalformed({ requests: [get('1', { headers: { 'bad header': 'x' } })] }, /not a valid header name/);
    await expectMalformed({ requests: [get('1', { headers: { 'x-note': 'a\r\nx-evil: 1' } })] }, /characters a header cannot carry/);
    await expectMalformed({ requests: [get('1', { headers: { 'x-note': { nested: true } } })] }, /must have a string value/);
    // A valid update beside a malformed request: nothing ran.
    await expectMalformed({ requests: [updateRequest('1', deviceId), get('2', { method: 'BREW' })] }, /BREW/);
    assert.equal(await operationCount(deviceId), 0);
  });

  test('dependsOn: not an array, an unknown id, a cycle, a request that depends on itself', async () => {
    await expectMalformed({ requests: [get('1', { dependsOn: '2' }), get('2')] }, /'dependsOn' must be an array/);
    await expectMalformed({ requests: [get('1', { dependsOn: ['9'] })] }, /'1' depends on '9', which is not a request of this batch/);
    await expectMalformed({ requests: [get('1', { dependsOn: ['3'] }), get('2', { dependsOn: ['1'] }), get('3', { dependsOn: ['2'] })] }, /cycle: '1' → '3' → '2' → '1'/);
    await expectMalformed({ requests: [get('1', { dependsOn: ['1'] })] }, /cycle: '1' → '1'/);
  });

  test('only POST: another method on /$batch is a 405', async () => {
    const response = await server.request('/beta/$batch');
    await expectGraphError(response, 405, 'methodNotAllowed');
  });
});

describe('auth', () => {
  test('no token or an invalid one: a 401 for the whole batch, with WWW-Authenticate, and nothing runs', async () => {
    const deviceId = freshDevice();
    for (const token of [null, 'not-a-jwt']) {
      const response = await postBatch({ requests: [updateRequest('1', deviceId)] }, { token });
      assert.ok(response.headers.get('www-authenticate'), 'WWW-Authenticate');
      await expectGraphError(response, 401, 'unauthenticated');
    }
    assert.equal(await operationCount(deviceId), 0);
  });

  test("permissions are each request's: a read-only token reads, and its updateSoftware is a 403", async () => {
    const deviceId = freshDevice();
    const responses = await runBatch([{ id: 'read', method: 'GET', url: `/teamwork/devices/${deviceId}` }, updateRequest('write', deviceId)], {
      token: await server.token({ scopes: ['TeamworkDevice.Read.All'] }),
    });
    assert.equal(responses.get('read')!.status, 200);
    expectSubError(responses.get('write'), 403, 'accessDenied');
    assert.equal(await operationCount(deviceId), 0);
  });

  test("the batch's token is every request's: a request's own Authorization header changes nothing", async () => {
    const tokenB = await server.token({ tenantId: tenantB });
    const tokenA = await server.token();
    const asA = await runBatch([{ id: '1', method: 'GET', url: `/teamwork/devices/${devices[6]}`, headers: { authorization: `Bearer ${tokenB}` } }], { token: tokenA });
    assert.equal(asA.get('1')!.status, 200);
    const asB = await runBatch([{ id: '1', method: 'GET', url: `/teamwork/devices/${devices[6]}`, headers: { Authorization: `Bearer ${tokenA}` } }], { token: tokenB });
    expectSubError(asB.get('1'), 404, 'itemNotFound');
  });
});

describe('hostile batches', () => {
  test('whatever the requests hold: never a 5xx; a 400 with the Graph body, or a 200 with one registered status per request', async () => {
    const registered = new Set(Object.values(errorRegistry).map((e) => `${e.status} ${e.code}`));
    const text = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('/teamwork/devices', `/teamwork/devices/${devices[7]}`, '$batch', '/users/x', "teamwork/devices?$filter=deviceType eq 'x'", '//x', '\\x', '#', '%', '%zz'));
    const value = fc.oneof(text, fc.integer(), fc.constant(null), fc.boolean(), fc.array(text, { maxLength: 3 }), fc.dictionary(text, text, { maxKeys: 3 }));
    const request = fc.record(
      { id: fc.oneof(text, fc.integer(), value), method: fc.oneof(fc.constantFrom('GET', 'get', 'POST', 'PATCH'), value), url: fc.oneof(text, value), headers: value, body: value, dependsOn: fc.oneof(fc.array(text, { maxLength: 2 }), value) },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 4 }), async (requests) => {
        const response = await postBatch({ requests });
        const reply = await response.text();
        assert.ok(response.status === 200 || response.status === 400, `${response.status}: ${reply}`);
        const body = JSON.parse(reply);
        if (response.status === 400) {
          assert.equal(body.error.code, 'invalidRequest');
          return;
        }
        assert.equal(body.responses.length, requests.length);
        for (const sub of body.responses as SubResponse[]) {
          assert.ok(sub.status < 500, JSON.stringify(sub));
          if (sub.status >= 400) assert.ok(registered.has(`${sub.status} ${sub.body?.error?.code}`), JSON.stringify(sub));
        }
      }),
      { numRuns: 150 },
    );
    // Whatever was deleted or changed, the tenant's other devices are all still there.
    assert.equal((await server.query('SELECT id FROM devices WHERE tenant_id = ?', [tenantA])).length, 40);
  });
});

describe('--rate-limit 5: every request of a batch counts', () => {
  let limited: TestServer;
  let ids: string[];

  before(async () => {
    limited = await startTestServer({ devicesA: 3, config: { rateLimit: '5' } });
    ids = await deviceIds(limited, 3);
    await new Promise((resolve) => setTimeout(resolve, 1200));
  });

  after(async () => {
    await limited?.stop();
  });

  test('a batch of 5 passes whole (the batch itself costs nothing); a batch of 20 is throttled past the bucket, with Retry-After; a direct request after it is throttled too', { timeout: 30_000 }, async () => {
    const reads = (n: number) => Array.from({ length: n }, (_, i) => ({ id: String(i), method: 'GET', url: `/teamwork/devices/${ids[i % 3]}` }));
    const five = await runBatch(reads(5), { on: limited });
    assert.deepEqual([...five.values()].map((r) => r.status), [200, 200, 200, 200, 200]);

    await new Promise((resolve) => setTimeout(resolve, 1200));
    const started = performance.now();
    const twenty = await runBatch(reads(20), { on: limited });
    const direct = await limited.request(`/beta/teamwork/devices/${ids[0]}`);
    const seconds = (performance.now() - started) / 1000;
    const statuses = [...twenty.values()].map((r) => r.status);
    const passed = statuses.filter((s) => s === 200).length;
    assert.ok(statuses.every((s) => s === 200 || s === 429), statuses.join(' '));
    assert.ok(passed >= 5 && passed <= 5 + Math.ceil(5 * seconds), `${passed} passed in ${seconds.toFixed(3)} s: ${statuses.join(' ')}`);
    for (const sub of twenty.values()) {
      if (sub.status !== 429) continue;
      expectSubError(sub, 429, 'activityLimitReached');
      assert.match(sub.headers['Retry-After'] ?? '', /^\d+$/);
    }
    if (seconds < 0.2) await expectGraphError(direct, 429, 'activityLimitReached');
    else await direct.text();
  });
});

describe('--trust-proxy: a batch through a trusted proxy', () => {
  let proxied: TestServer;

  before(async () => {
    proxied = await startTestServer({ devicesA: 3, config: { trustProxy: ['127.0.0.1'] } });
  });

  after(async () => {
    await proxied?.stop();
  });

  test("links use the proxy's scheme and host, the audit log the client's address; a request's own forwarded headers are not believed", async () => {
    const [deviceId] = await deviceIds(proxied, 1);
    const responses = await runBatch(
      [
        { id: 'page', method: 'GET', url: '/teamwork/devices?$top=1', headers: { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http' } },
        { ...updateRequest('update', deviceId), headers: { 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.7' } },
      ],
      { on: proxied, headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'devices.example.com', 'x-forwarded-for': '203.0.113.9' } },
    );
    assert.ok((responses.get('page')!.body as Page)['@odata.nextLink']!.startsWith('https://devices.example.com/beta/teamwork/devices?'));
    const operationId = responses.get('update')!.headers.Location.split('/').pop();
    const audit = (await (await proxied.request('/beta/teamwork/auditEvents?$top=50')).json()) as {
      value: { activity: string; initiatedBy: { ipAddress: string | null }; targetResources: { id: string }[] }[];
    };
    const created = audit.value.find((e) => e.activity === 'operationCreated' && e.targetResources[0]?.id === operationId);
    assert.ok(created, 'the operation is in the audit log');
    assert.equal(created.initiatedBy.ipAddress, '203.0.113.9');
  });
});

describe('--tls: a batch over https', () => {
  test('links in sub-responses are https, as a direct request\'s are (the sub-request itself never touches TLS)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'twd-tls-'));
    // TLS is not a store concern: a SQLite file keeps the generated certificate in the temporary folder.
    const secure = await startTestServer({ devicesA: 3, config: { tls: true, db: join(dir, 'tls.db') } });
    try {
      assert.match(secure.url, /^https:/);
      const token = await secure.token();
      const body = JSON.stringify({ requests: [{ id: '1', method: 'GET', url: '/teamwork/devices?$top=1' }] });
      const reply = await new Promise<{ status: number; text: string }>((done, fail) => {
        const request = https.request(`${secure.url}/beta/$batch`, {
          method: 'POST',
          rejectUnauthorized: false,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
          res.on('end', () => done({ status: res.statusCode ?? 0, text }));
        });
        request.on('error', fail);
        request.end(body);
      });
      assert.equal(reply.status, 200, reply.text);
      const page = (JSON.parse(reply.text) as { responses: SubResponse[] }).responses[0].body as Page;
      assert.ok(page['@odata.nextLink']!.startsWith(`${secure.url}/beta/teamwork/devices?`), page['@odata.nextLink']);
      assert.ok(page['@odata.context'].startsWith(`${secure.url}/beta/$metadata#`));
    } finally {
      await secure.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
