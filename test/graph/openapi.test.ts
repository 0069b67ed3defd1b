import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { RegisteredRoute } from '../../src/http/openapi.js';
import { deviceIds, expectGraphError, operationRows } from '../helpers/http-assertions.js';
import { postJson, startTestServer, type TestServer } from '../helpers/test-server.js';

interface Operation {
  security?: Array<Record<string, string[]>>;
  requestBody?: { required?: boolean; content: Record<string, { schema: object }> };
  responses: Record<string, { headers?: Record<string, { schema: object }>; content?: Record<string, { schema: object }> }>;
}
type PathItem = Record<string, Operation> & { servers?: Array<{ url: string }> };
interface Document {
  openapi: string;
  servers?: Array<{ url: string }>;
  paths: Record<string, PathItem>;
  components: Record<string, unknown>;
}

const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const readScopes = [{ graphToken: ['TeamworkDevice.Read.All'] }, { graphToken: ['TeamworkDevice.ReadWrite.All'] }];
const writeScopes = [{ graphToken: ['TeamworkDevice.ReadWrite.All'] }];

/** Every URL an operation of the document is served at: each server of its path (or of the document) before the path. */
function documentedOperations(doc: Document): Map<string, Operation> {
  const operations = new Map<string, Operation>();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const server of item.servers ?? doc.servers ?? [{ url: '/' }]) {
      const url = server.url.replace(/\/$/, '') + path;
      for (const method of methods) if (item[method]) operations.set(`${method.toUpperCase()} ${url}`, item[method]);
    }
  }
  return operations;
}

/** The registered, visible routes the document does not describe (a GET's automatic HEAD comes with its GET). */
function undocumented(routes: RegisteredRoute[], operations: Map<string, Operation>): string[] {
  return routes
    .filter((route) => !route.hidden)
    .map((route) => `${route.method === 'HEAD' ? 'GET' : route.method} ${route.url.replace(/:(\w+)/g, '{$1}')}`)
    .filter((key) => !operations.has(key));
}

/** A fetchable path for a documented one: every path parameter filled with `id`. */
const filled = (url: string, id = 'x0') => url.replace(/\{\w+\}/g, id);

let server: TestServer;
let doc: Document;
let operations: Map<string, Operation>;

before(async () => {
  server = await startTestServer({ devicesA: 3 });
  const response = await fetch(`${server.url}/openapi.json`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  doc = (await response.json()) as Document;
  operations = documentedOperations(doc);
});
after(() => server.stop());

describe('/openapi.json', () => {
  test('is a valid OpenAPI 3.1 document, served without a token', async () => {
    assert.equal(doc.openapi, '3.1.0');
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc) as unknown as Record<string, unknown>);
    assert.equal(validator.version, '3.1');
    assert.ok(result.valid, JSON.stringify(result.errors, null, 1));
  });

  test('describes every route the server registers, and no route it does not', () => {
    const routes = server.app.registeredRoutes;
    const visible = routes.filter((route) => !route.hidden);
    // The collection is real: the routes this test knows of are in it, hidden ones marked.
    for (const key of ['GET /beta/teamwork/devices', 'POST /teamwork/devices/:deviceId/updateSoftware', 'GET /agent/v1/work', 'POST /beta/$batch']) {
      assert.ok(visible.some((route) => `${route.method} ${route.url}` === key), key);
    }
    assert.ok(routes.some((route) => route.hidden && route.url === '/beta/teamwork/devices' && route.method !== 'GET'), 'the 405 catch-all is hidden');
    assert.deepEqual(undocumented(routes, operations), []);

    const registered = new Set(visible.map((route) => `${route.method} ${route.url.replace(/:(\w+)/g, '{$1}')}`));
    assert.deepEqual([...operations.keys()].filter((key) => !registered.has(key)), [], 'documented operations that are not served');
  });

  test('the coverage check fails for a route the document lacks', () => {
    const extra: RegisteredRoute = { method: 'GET', url: '/teamwork/devices/:deviceId/peripherals', hidden: false, access: 'read' };
    assert.deepEqual(undocumented([extra], operations), ['GET /teamwork/devices/{deviceId}/peripherals']);
    assert.deepEqual(undocumented([{ ...extra, hidden: true }], operations), []);
  });

  test('/beta and the unversioned paths are one description with two servers', () => {
    const devices = doc.paths['/teamwork/devices'];
    assert.deepEqual(devices.servers?.map((s) => s.url), ['/beta', '/']);
    assert.equal(doc.paths['/beta/teamwork/devices'], undefined);
    assert.equal(doc.paths['/agent/v1/work'].servers, undefined);
  });

  test('a body that may be left out is documented as optional; one that may not, as required', () => {
    assert.equal(operations.get('POST /beta/teamwork/devices/{deviceId}/updateSoftware')?.requestBody?.required, true);
    assert.equal(operations.get('POST /beta/teamwork/devices/{deviceId}/restart')?.requestBody?.required, false);
    assert.equal(operations.get('POST /agent/v1/operations/{operationId}/progress')?.requestBody?.required, false);
    assert.equal(operations.get('POST /agent/v1/operations/{operationId}/result')?.requestBody?.required, true);
  });

  test('each operation names the security the server enforces', async () => {
    const reader = await server.token({ scopes: ['TeamworkDevice.Read.All'] });
    for (const route of server.app.registeredRoutes.filter((r) => !r.hidden && r.method !== 'HEAD')) {
      const key = `${route.method} ${route.url.replace(/:(\w+)/g, '{$1}')}`;
      const security = operations.get(key)?.security;
      const expected = { read: readScopes, write: writeScopes, authenticated: [{ graphToken: [] }], device: [{ deviceCredential: [] }] }[route.access as string];
      if (expected) assert.deepEqual(security, expected, key);
    }
    // What the document says is what the server does, checked on every operation.
    for (const [key, operation] of operations) {
      if (!key.startsWith('GET /beta/') && !key.startsWith('POST /beta/') && !key.includes(' /agent/')) continue;
      const [method, url] = key.split(' ');
      const path = filled(url);
      const names = JSON.stringify(operation.security ?? []);
      if (names === JSON.stringify(writeScopes)) {
        await expectGraphError(await server.request(path, { method, token: reader }), 403, 'accessDenied');
      } else if (names === JSON.stringify(readScopes)) {
        const response = await server.request(path, { method, token: reader });
        assert.ok(![401, 403].includes(response.status), `${key}: a read token got ${response.status}`);
        await expectGraphError(await server.request(path, { method, token: null }), 401, 'unauthenticated');
      } else if (names.includes('deviceCredential') && !names.includes('{}')) {
        await expectGraphError(await server.request(path, { method, token: null }), 401, 'unauthenticated');
      }
    }
  });
});

describe('/docs', () => {
  test('serves the UI from the package, every asset reachable, no external address', async () => {
    const response = await fetch(`${server.url}/docs`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
    const html = await response.text();
    assert.match(html, /swagger-ui/);
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    assert.ok(assets.some((a) => a.endsWith('swagger-ui-bundle.js')), html);
    for (const asset of [...assets, '/docs/static/swagger-initializer.js']) {
      assert.doesNotMatch(asset, /^(https?:)?\/\//, `${asset} is external`);
      const file = await fetch(new URL(asset, `${server.url}/docs`));
      assert.equal(file.status, 200, asset);
      if (asset.endsWith('initializer.js')) {
        const script = await file.text();
        assert.match(script, /validatorUrl: null/, 'the UI sends the document to no outside validator');
        assert.match(script, /\.\/json/);
      } else await file.arrayBuffer();
    }
    const json = await fetch(`${server.url}/docs/json`);
    assert.deepEqual(await json.json(), doc);
  });
});

describe('replies match the document', () => {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  const check = (schema: object, value: unknown, what: string) => {
    const validate = ajv.compile({ ...schema, components: doc.components });
    assert.ok(validate(value), `${what}: ${JSON.stringify(validate.errors)}`);
  };
  const jsonSchemaOf = (operation: Operation | undefined, status: string) => operation!.responses[status].content!['application/json'].schema;

  test('the device list and a device', async () => {
    const list = await (await server.request('/beta/teamwork/devices?$top=2&$count=true')).json() as { value: Array<{ id: string }> };
    check(jsonSchemaOf(operations.get('GET /beta/teamwork/devices'), '200'), list, 'device list');
    const device = await (await server.request(`/beta/teamwork/devices/${list.value[0].id}`)).json();
    check(jsonSchemaOf(operations.get('GET /beta/teamwork/devices/{deviceId}'), '200'), device, 'device');
  });

  test("updateSoftware: the body the document describes is accepted, the 202's Location is the documented one, the operation matches", async () => {
    const [deviceId] = await deviceIds(server, 1);
    const action = operations.get('POST /beta/teamwork/devices/{deviceId}/updateSoftware')!;
    const body = { softwareType: 'teamsClient' };
    check(action.requestBody!.content['application/json'].schema, body, 'request body');
    const response = await postJson(server, `/beta/teamwork/devices/${deviceId}/updateSoftware`, body);
    assert.equal(response.status, 202, await response.text());
    const location = response.headers.get('location');
    check(action.responses['202'].headers!.location.schema, location, 'Location');

    const operation = await (await server.request(location!)).json();
    check(jsonSchemaOf(operations.get('GET /beta/teamwork/devices/{deviceId}/operations/{operationId}'), '200'), operation, 'operation');
    const page = await (await server.request(`/beta/teamwork/devices/${deviceId}/operations`)).json();
    check(jsonSchemaOf(operations.get('GET /beta/teamwork/devices/{deviceId}/operations'), '200'), page, 'operation list');
    assert.equal((await operationRows(server, 'device_id = ?', deviceId)).length, 1);
  });
});

describe('requests are validated by the schemas the document shows', () => {
  test('a body the document refuses is a 400 naming the field, directly and inside a $batch alike', async () => {
    const deviceId = (await deviceIds(server, 3))[2];
    const schema = operations.get('POST /beta/teamwork/devices/{deviceId}/updateSoftware')!.requestBody!.content['application/json'].schema;
    const bad = { softwareType: 'teamsClient', softwareVersion: '1.0 beta' };
    const ajv = new Ajv2020({ strict: false });
    assert.equal(ajv.validate(schema, bad), false, 'the document refuses it');
    const direct = await expectGraphError(await postJson(server, `/beta/teamwork/devices/${deviceId}/updateSoftware`, bad), 400, 'invalidRequest');
    assert.match(direct.message, /'softwareVersion' must be 1 to 64 characters/);

    const batch = await postJson(server, '/beta/$batch', {
      requests: [{ id: '1', method: 'POST', url: `/teamwork/devices/${deviceId}/updateSoftware`, headers: { 'content-type': 'application/json' }, body: bad }],
    });
    assert.equal(batch.status, 200);
    const [sub] = ((await batch.json()) as { responses: Array<{ status: number; body: { error: { code: string; message: string } } }> }).responses;
    assert.equal(sub.status, 400);
    assert.equal(sub.body.error.code, 'invalidRequest');
    assert.equal(sub.body.error.message, direct.message);
    assert.equal((await operationRows(server, 'device_id = ?', deviceId)).length, 0);
  });

  test('unknown properties are named all at once, before a missing one', async () => {
    const [deviceId] = await deviceIds(server, 1);
    const error = await expectGraphError(await postJson(server, `/beta/teamwork/devices/${deviceId}/updateSoftware`, { SoftwareType: 'teamsClient', x: 1 }), 400, 'invalidRequest');
    assert.equal(error.message, "The properties 'SoftwareType', 'x' do not exist on type 'microsoft.graph.updateSoftware'.");
  });
});
