import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { deviceIds, expectGraphError, isIsoDate, jsonColumn, operationRows } from '../helpers/http-assertions.js';
import { offer, offersOf } from '../helpers/test-catalog.js';
import { postJson, startTestServer, tenantA, tenantB, type TestServer } from '../helpers/test-server.js';

/**
 * The write side of /teamwork/devices over real HTTP against a real SQLite file:
 * updateSoftware / restart / runDiagnostics, the operations they create, the 409 rule,
 * body validation and every error status of the actions.
 */

let server: TestServer;
let devices: string[] = [];
let nextDevice = 0;
/** A device no other test has touched (each test that creates operations takes its own). */
const freshDevice = () => {
  const id = devices[nextDevice++];
  assert.ok(id, 'ran out of seeded devices: raise devicesA');
  return id;
};

before(async () => {
  server = await startTestServer({ devicesA: 84, devicesB: 3 });
  devices = await deviceIds(server, 84);
});

after(async () => {
  await server?.stop();
});

type Action = 'updateSoftware' | 'restart' | 'runDiagnostics';
const operationTypeOf: Record<Action, string> = {
  updateSoftware: 'softwareUpdate',
  restart: 'deviceRestart',
  runDiagnostics: 'deviceDiagnostics',
};
const updateBody = { softwareType: 'teamsClient', softwareVersion: '1.0.96.22' };

/** POSTs an action the way a Graph client does (JSON body for updateSoftware, none otherwise). */
function postAction(deviceId: string, action: Action, options: { prefix?: string; qualified?: boolean; token?: string; body?: unknown } = {}) {
  const path = `${options.prefix ?? '/beta'}/teamwork/devices/${deviceId}/${options.qualified ? 'microsoft.graph.' : ''}${action}`;
  const body = options.body ?? (action === 'updateSoftware' ? updateBody : undefined);
  if (body === undefined) return server.request(path, { method: 'POST', token: options.token });
  return postJson(server, path, body, { token: options.token });
}

/** Asserts the documented 202 and returns the Location. */
async function expectAccepted(response: Response): Promise<string> {
  const text = await response.text();
  assert.equal(response.status, 202, `expected 202, got ${response.status}: ${text}`);
  assert.equal(text, '');
  assert.equal(response.headers.get('content-length'), '0');
  assert.ok(response.headers.get('request-id'));
  const location = response.headers.get('location');
  assert.ok(location, 'Location header');
  return location;
}

function operationIdOf(location: string): string {
  return location.split('/').pop()!;
}

async function operationCount(deviceId: string): Promise<number> {
  return (await operationRows(server, 'tenant_id = ? AND device_id = ?', tenantA, deviceId)).length;
}

interface OperationJson {
  '@odata.context': string;
  '@odata.type': string;
  id: string;
  status: string;
  operationType: string;
  createdDateTime: string;
  lastActionDateTime: string;
  startedDateTime: string | null;
  completedDateTime: string | null;
  error: unknown;
  createdBy: unknown;
  lastActionBy: unknown;
}

describe('actions accept with 202 and a Location to a queued operation', () => {
  const variants = [
    { prefix: '/beta', qualified: false },
    { prefix: '', qualified: false },
    { prefix: '/beta', qualified: true },
    { prefix: '', qualified: true },
  ];
  for (const action of ['updateSoftware', 'restart', 'runDiagnostics'] as Action[]) {
    for (const variant of variants) {
      const path = `${variant.prefix}/teamwork/devices/{id}/${variant.qualified ? 'microsoft.graph.' : ''}${action}`;
      test(`POST ${path}`, async () => {
        const deviceId = freshDevice();
        const before = Date.now();
        const location = await expectAccepted(await postAction(deviceId, action, variant));
        const uuid = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
        assert.match(location, new RegExp(`^/teamwork/devices/${deviceId}/operations/${uuid}$`));
        const operationId = operationIdOf(location);

        // The Location works as given (no /beta), prefixed with the server's address.
        const response = await server.request(server.url + location);
        assert.equal(response.status, 200);
        const operation = (await response.json()) as OperationJson;
        assert.equal(operation['@odata.type'], '#microsoft.graph.teamworkDeviceOperation');
        assert.match(operation['@odata.context'], /\$metadata#teamwork\/devices\('.+'\)\/operations\/\$entity$/);
        assert.equal(operation.id, operationId);
        assert.equal(operation.status, 'queued');
        assert.equal(operation.operationType, operationTypeOf[action]);
        assert.ok(isIsoDate(operation.createdDateTime), operation.createdDateTime);
        assert.ok(isIsoDate(operation.lastActionDateTime), operation.lastActionDateTime);
        assert.ok(Date.parse(operation.createdDateTime) >= before - 1000 && Date.parse(operation.createdDateTime) <= Date.now() + 1000);
        assert.equal(operation.startedDateTime, null);
        assert.equal(operation.completedDateTime, null);
        assert.equal(operation.error, null);
        for (const identity of [operation.createdBy, operation.lastActionBy]) {
          const set = identity as { application: unknown; device: unknown; user: { id: string; displayName: string; userIdentityType: string } };
          assert.deepEqual(Object.keys(set).sort(), ['application', 'device', 'user']);
          assert.equal(set.application, null);
          assert.equal(set.device, null);
          assert.equal(typeof set.user.id, 'string');
          assert.ok(set.user.id.length > 0);
          assert.equal(typeof set.user.displayName, 'string');
          assert.equal(set.user.userIdentityType, 'aadUser');
        }

        // The same operation is also served under /beta.
        const beta = await server.request(`/beta${location}`);
        assert.equal(beta.status, 200);
        assert.equal(((await beta.json()) as OperationJson).id, operationId);

        // And it is a real row in the database.
        const rows = await operationRows(server, 'tenant_id = ? AND device_id = ?', tenantA, deviceId);
        assert.equal(rows.length, 1);
        const row = rows[0];
        assert.equal(row.id, operationId);
        assert.equal(row.status, 'queued');
        assert.equal(row.operation_type, operationTypeOf[action]);
        assert.equal(row.software_type, action === 'updateSoftware' ? 'teamsClient' : null);
        assert.equal(row.software_version, action === 'updateSoftware' ? '1.0.96.22' : null);
        assert.equal(row.started_at, null);
        assert.equal(row.completed_at, null);
        assert.deepEqual(jsonColumn(row.created_by), operation.createdBy);
      });
    }
  }

  test('OData key syntax devices(\'{id}\'), upper-case segments and a trailing slash address the same action', async () => {
    for (const path of [
      (id: string) => `/beta/teamwork/devices('${id}')/updateSoftware`,
      (id: string) => `/BETA/Teamwork/Devices/${id}/UpdateSoftware`,
      (id: string) => `/teamwork/devices/${id}/Microsoft.Graph.UpdateSoftware`,
      (id: string) => `/beta/teamwork/devices/${id}/updateSoftware/`,
    ]) {
      const deviceId = freshDevice();
      const location = await expectAccepted(await postJson(server, path(deviceId), updateBody));
      assert.ok(location.startsWith(`/teamwork/devices/${deviceId}/operations/`), location);
      assert.equal(await operationCount(deviceId), 1);
    }
  });

  test('an application token is recorded as the application in createdBy/lastActionBy', async () => {
    const deviceId = freshDevice();
    const appToken = await server.token({ app: true });
    const location = await expectAccepted(await postAction(deviceId, 'updateSoftware', { token: appToken }));
    const response = await server.request(server.url + location, { token: appToken });
    assert.equal(response.status, 200);
    const operation = (await response.json()) as OperationJson;
    for (const identity of [operation.createdBy, operation.lastActionBy]) {
      const set = identity as { application: { id: string; displayName: string }; device: unknown; user: unknown };
      assert.deepEqual(Object.keys(set).sort(), ['application', 'device', 'user']);
      assert.equal(set.user, null);
      assert.equal(set.device, null);
      assert.equal(typeof set.application.id, 'string');
      assert.ok(set.application.id.length > 0);
      assert.equal(typeof set.application.displayName, 'string');
    }
    const [row] = await operationRows(server, 'id = ?', operationIdOf(location));
    assert.deepEqual(jsonColumn(row.created_by), operation.createdBy);
    assert.deepEqual(jsonColumn(row.last_action_by), operation.lastActionBy);
  });

  test('different users are recorded as different users', async () => {
    const deviceId = freshDevice();
    const alice = await server.token({ user: 'alice.smith@contoso.example' });
    const location = await expectAccepted(await postAction(deviceId, 'restart', { token: alice }));
    const operation = (await (await server.request(server.url + location)).json()) as OperationJson;
    const user = (operation.createdBy as { user: { id: string; displayName: string } }).user;
    assert.equal(user.displayName, 'Alice Smith');
    const bob = await server.token({ user: 'bob@contoso.example' });
    const other = await expectAccepted(await postAction(deviceId, 'runDiagnostics', { token: bob }));
    const second = (await (await server.request(server.url + other)).json()) as OperationJson;
    assert.notEqual((second.createdBy as { user: { id: string } }).user.id, user.id);
  });

  test('operation ids are version-7 GUIDs that carry their creation time and sort in creation order', async () => {
    const created: { id: string; before: number; after: number }[] = [];
    for (let i = 0; i < 3; i++) {
      const before = Date.now();
      const id = operationIdOf(await expectAccepted(await postAction(freshDevice(), 'updateSoftware')));
      created.push({ id, before, after: Date.now() });
      await new Promise((resolve) => setTimeout(resolve, 3)); // the next one in a later millisecond
    }
    for (const { id, before, after } of created) {
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, id);
      const millis = Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16);
      assert.ok(millis >= before && millis <= after, `${id}: ${millis} not within [${before}, ${after}]`);
    }
    const ids = created.map((c) => c.id);
    assert.deepEqual([...ids].sort(), ids);
    assert.equal(new Set(ids).size, ids.length);
  });

  test('an unknown operation id, or an operation read through another device, is a 404', async () => {
    const deviceId = freshDevice();
    const otherDevice = freshDevice();
    const location = await expectAccepted(await postAction(deviceId, 'restart'));
    const operationId = operationIdOf(location);
    await expectGraphError(await server.request(`/beta/teamwork/devices/${otherDevice}/operations/${operationId}`), 404, 'itemNotFound');
    await expectGraphError(
      await server.request(`/beta/teamwork/devices/${deviceId}/operations/00000000-0000-4000-8000-000000000000`),
      404,
      'itemNotFound',
    );
  });
});

describe('409 while an operation of the same kind is pending', () => {
  test('updateSoftware: same softwareType → 409, another softwareType → 202', async () => {
    const deviceId = freshDevice();
    await expectAccepted(await postAction(deviceId, 'updateSoftware', { body: { softwareType: 'teamsClient', softwareVersion: '1.0.0' } }));
    const error = await expectGraphError(
      await postAction(deviceId, 'updateSoftware', { body: { softwareType: 'teamsClient', softwareVersion: '1.0.96.22' } }),
      409,
      'conflict',
    );
    assert.match(error.message, /teamsClient/);
    // The qualified name and the unversioned path are the same action: still a conflict.
    await expectGraphError(
      await postAction(deviceId, 'updateSoftware', { prefix: '', qualified: true, body: { softwareType: 'teamsClient', softwareVersion: '1.0.0' } }),
      409,
      'conflict',
    );
    await expectAccepted(await postAction(deviceId, 'updateSoftware', { body: { softwareType: 'firmware', softwareVersion: '1.0.0' } }));
    await expectGraphError(await postAction(deviceId, 'updateSoftware', { body: { softwareType: 'firmware', softwareVersion: '1.0.0' } }), 409, 'conflict');
    const rows = await operationRows(server, 'tenant_id = ? AND device_id = ?', tenantA, deviceId);
    assert.deepEqual(rows.map((r) => r.software_type), ['teamsClient', 'firmware']);
  });

  test('restart twice → 409; runDiagnostics while a restart is queued → 202', async () => {
    const deviceId = freshDevice();
    await expectAccepted(await postAction(deviceId, 'restart'));
    await expectGraphError(await postAction(deviceId, 'restart'), 409, 'conflict');
    await expectGraphError(await postAction(deviceId, 'restart', { qualified: true }), 409, 'conflict');
    await expectAccepted(await postAction(deviceId, 'runDiagnostics'));
    await expectGraphError(await postAction(deviceId, 'runDiagnostics'), 409, 'conflict');
    // A pending restart does not block a software update either.
    await expectAccepted(await postAction(deviceId, 'updateSoftware'));
    assert.equal(await operationCount(deviceId), 3);
  });

  test('a pending operation on one device does not block another device', async () => {
    const first = freshDevice();
    const second = freshDevice();
    await expectAccepted(await postAction(first, 'restart'));
    await expectAccepted(await postAction(second, 'restart'));
  });

  test('150 simultaneous updateSoftware requests → exactly one 202 and 149 × 409', async () => {
    const deviceId = freshDevice();
    // A different version in each request, each offered: only the pending operation decides.
    await offer(server.store, tenantA, offersOf(Array.from({ length: 150 }, (_, i) => `10.0.${i}`), ['operatingSystem']));
    const responses = await Promise.all(
      Array.from({ length: 150 }, (_, i) =>
        postAction(deviceId, 'updateSoftware', {
          prefix: i % 2 ? '' : '/beta',
          body: { softwareType: 'operatingSystem', softwareVersion: `10.0.${i}` },
        }),
      ),
    );
    const accepted = responses.filter((r) => r.status === 202);
    const conflicts = responses.filter((r) => r.status === 409);
    assert.equal(accepted.length, 1, `statuses: ${responses.map((r) => r.status).join(',')}`);
    assert.equal(conflicts.length, 149);
    const location = await expectAccepted(accepted[0]);
    await expectGraphError(conflicts[0], 409, 'conflict');
    await Promise.all(conflicts.slice(1).map((r) => r.arrayBuffer()));

    const rows = await operationRows(server, 'tenant_id = ? AND device_id = ? AND operation_type = ? AND software_type = ?', tenantA, deviceId, 'softwareUpdate', 'operatingSystem');
    assert.equal(rows.length, 1);
    assert.equal(rows[0].id, operationIdOf(location));
    assert.equal(rows[0].status, 'queued');
  });
});

describe('operations of a device', () => {
  test('listed newest first, paged with $top and an absolute @odata.nextLink, $select honoured', async () => {
    const deviceId = freshDevice();
    const created: string[] = [];
    const bodies: [Action, unknown][] = [
      ['updateSoftware', { softwareType: 'teamsClient', softwareVersion: '1.0.0' }],
      ['restart', undefined],
      ['updateSoftware', { softwareType: 'firmware', softwareVersion: '122.15.0.61' }],
      ['runDiagnostics', undefined],
      ['updateSoftware', { softwareType: 'companyPortal', softwareVersion: '1.0.0' }],
    ];
    for (const [action, body] of bodies) {
      created.push(operationIdOf(await expectAccepted(await postAction(deviceId, action, { body }))));
    }
    const newestFirst = [...created].reverse();

    const all = await server.request(`/beta/teamwork/devices/${deviceId}/operations`);
    assert.equal(all.status, 200);
    const list = (await all.json()) as { '@odata.context': string; '@odata.nextLink'?: string; value: OperationJson[] };
    assert.match(list['@odata.context'], /\/beta\/\$metadata#teamwork\/devices\('.+'\)\/operations$/);
    assert.equal(list['@odata.nextLink'], undefined);
    assert.deepEqual(list.value.map((o) => o.id), newestFirst);
    assert.deepEqual(list.value.map((o) => o.operationType), ['softwareUpdate', 'deviceDiagnostics', 'softwareUpdate', 'deviceRestart', 'softwareUpdate']);
    assert.ok(list.value.every((o) => o.status === 'queued'));
    for (let i = 1; i < list.value.length; i++) {
      assert.ok(list.value[i - 1].createdDateTime >= list.value[i].createdDateTime);
    }

    // Pages of two: 2 + 2 + 1, following @odata.nextLink as given.
    const seen: string[] = [];
    const sizes: number[] = [];
    let url: string | undefined = `${server.url}/beta/teamwork/devices/${deviceId}/operations?$top=2`;
    while (url) {
      const response = await server.request(url);
      assert.equal(response.status, 200);
      const page = (await response.json()) as { '@odata.nextLink'?: string; value: OperationJson[] };
      sizes.push(page.value.length);
      seen.push(...page.value.map((o) => o.id));
      url = page['@odata.nextLink'];
      if (url) {
        assert.ok(url.startsWith(`${server.url}/beta/teamwork/devices/${deviceId}/operations?`), url);
        assert.match(url, /[?&]%24top=2(&|$)|[?&]\$top=2(&|$)/);
        assert.match(url, /skiptoken=/);
      }
      assert.ok(sizes.length <= 5, 'paging does not end');
    }
    assert.deepEqual(sizes, [2, 2, 1]);
    assert.deepEqual(seen, newestFirst);

    // Paging keeps $select.
    const selected = await server.request(`/beta/teamwork/devices/${deviceId}/operations?$select=id,status&$top=3`);
    assert.equal(selected.status, 200);
    const selectedPage = (await selected.json()) as { '@odata.context': string; '@odata.nextLink': string; value: Record<string, unknown>[] };
    assert.match(selectedPage['@odata.context'], /operations\(id,status\)$/);
    assert.equal(selectedPage.value.length, 3);
    for (const item of selectedPage.value) {
      assert.deepEqual(Object.keys(item).filter((k) => !k.startsWith('@odata.')).sort(), ['id', 'status']);
    }
    const rest = await server.request(selectedPage['@odata.nextLink']);
    assert.equal(rest.status, 200);
    const restPage = (await rest.json()) as { value: Record<string, unknown>[] };
    assert.deepEqual(restPage.value.map((o) => o.id), newestFirst.slice(3));
    for (const item of restPage.value) {
      assert.deepEqual(Object.keys(item).filter((k) => !k.startsWith('@odata.')).sort(), ['id', 'status']);
    }

    // $select on a single operation.
    const one = await server.request(`/teamwork/devices/${deviceId}/operations/${created[0]}?$select=operationType`);
    assert.equal(one.status, 200);
    const oneBody = (await one.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(oneBody).filter((k) => !k.startsWith('@odata.')), ['operationType']);
    assert.equal(oneBody.operationType, 'softwareUpdate');

    // Unknown $select property and a bad $top are 400s.
    await expectGraphError(await server.request(`/beta/teamwork/devices/${deviceId}/operations?$select=softwareType`), 400, 'invalidRequest');
    await expectGraphError(await server.request(`/beta/teamwork/devices/${deviceId}/operations?$top=0`), 400, 'invalidRequest');
    await expectGraphError(await server.request(`/beta/teamwork/devices/${deviceId}/operations?$skiptoken=garbage`), 400, 'invalidRequest');
  });

  test('paging is keyset-based: operations created between pages neither repeat nor shift the rest', async () => {
    const deviceId = freshDevice();
    const created: string[] = [];
    for (const softwareType of ['adminAgent', 'operatingSystem', 'teamsClient', 'firmware']) {
      created.push(operationIdOf(await expectAccepted(await postAction(deviceId, 'updateSoftware', { body: { softwareType, softwareVersion: '1.0.0' } }))));
    }
    const first = (await (await server.request(`/beta/teamwork/devices/${deviceId}/operations?$top=2`)).json()) as {
      '@odata.nextLink': string;
      value: OperationJson[];
    };
    assert.deepEqual(first.value.map((o) => o.id), [created[3], created[2]]);
    // Two more operations arrive while the client is paging.
    await expectAccepted(await postAction(deviceId, 'restart'));
    await expectAccepted(await postAction(deviceId, 'runDiagnostics'));
    const second = (await (await server.request(first['@odata.nextLink'])).json()) as { '@odata.nextLink'?: string; value: OperationJson[] };
    assert.deepEqual(second.value.map((o) => o.id), [created[1], created[0]]);
    assert.equal(second['@odata.nextLink'], undefined);
  });

  test('a device without operations has an empty list', async () => {
    const response = await server.request(`/beta/teamwork/devices/${freshDevice()}/operations`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as { value: unknown[]; '@odata.nextLink'?: string };
    assert.deepEqual(body.value, []);
    assert.equal(body['@odata.nextLink'], undefined);
  });
});

describe('action bodies are validated strictly (400, and no operation is created)', () => {
  let deviceId: string;
  before(() => {
    deviceId = freshDevice();
  });

  const updateSoftwareCases: { name: string; raw: string; mention?: RegExp }[] = [
    { name: 'empty object (softwareType missing)', raw: '{}', mention: /softwareType/ },
    { name: 'only softwareVersion', raw: '{"softwareVersion":"1.0.96.22"}', mention: /softwareType/ },
    { name: 'softwareType null', raw: '{"softwareType":null}', mention: /softwareType/ },
    { name: "softwareType 'TeamsClient' (wrong case)", raw: '{"softwareType":"TeamsClient"}', mention: /TeamsClient/ },
    { name: "softwareType 'foo'", raw: '{"softwareType":"foo"}', mention: /foo/ },
    { name: "softwareType 'unknownFutureValue'", raw: '{"softwareType":"unknownFutureValue"}', mention: /softwareType/ },
    { name: 'softwareType a number', raw: '{"softwareType":2}', mention: /softwareType/ },
    { name: 'softwareType an array', raw: '{"softwareType":["teamsClient"]}', mention: /softwareType/ },
    { name: 'softwareVersion a number', raw: '{"softwareType":"teamsClient","softwareVersion":1}', mention: /softwareVersion/ },
    { name: 'softwareVersion of 65 characters', raw: JSON.stringify({ softwareType: 'teamsClient', softwareVersion: '1'.repeat(65) }), mention: /softwareVersion/ },
    { name: 'softwareVersion empty', raw: '{"softwareType":"teamsClient","softwareVersion":""}', mention: /softwareVersion/ },
    { name: 'softwareVersion with a space', raw: '{"softwareType":"teamsClient","softwareVersion":"1.0 96"}', mention: /softwareVersion/ },
    { name: "softwareVersion with ';'", raw: '{"softwareType":"teamsClient","softwareVersion":"1.0;rm"}', mention: /softwareVersion/ },
    { name: 'softwareVersion with a slash', raw: '{"softwareType":"teamsClient","softwareVersion":"../1"}', mention: /softwareVersion/ },
    { name: 'unknown property', raw: '{"softwareType":"teamsClient","forceReboot":true}', mention: /'forceReboot'/ },
    { name: 'two unknown properties', raw: '{"softwareType":"teamsClient","a":1,"b":2}', mention: /'a'.*'b'/ },
    { name: 'a __proto__ property', raw: '{"softwareType":"teamsClient","__proto__":{"softwareVersion":"1"}}', mention: /'__proto__'/ },
    { name: 'a constructor property', raw: '{"softwareType":"teamsClient","constructor":{}}', mention: /'constructor'/ },
    { name: 'property names are case-sensitive (SoftwareType)', raw: '{"SoftwareType":"teamsClient"}', mention: /'SoftwareType'/ },
    { name: 'array body []', raw: '[]' },
    { name: 'array of an object', raw: '[{"softwareType":"teamsClient"}]' },
    { name: 'null body', raw: 'null' },
    { name: 'string body "x"', raw: '"x"' },
    { name: 'number body', raw: '42' },
    { name: 'malformed JSON {"a":', raw: '{"a":' },
    { name: 'trailing garbage', raw: '{"softwareType":"teamsClient"} x' },
    { name: 'empty body with application/json', raw: '', mention: /softwareType|body/i },
  ];

  for (const { name, raw, mention } of updateSoftwareCases) {
    test(`updateSoftware: ${name}`, async () => {
      const response = await postJson(server, `/beta/teamwork/devices/${deviceId}/updateSoftware`, raw, {
        headers: { 'client-request-id': 'validation-case' },
      });
      const error = await expectGraphError(response, 400, 'invalidRequest', { clientRequestId: 'validation-case' });
      if (mention) assert.match(error.message, mention);
      assert.equal(await operationCount(deviceId), 0);
    });
  }

  test('a 64-character softwareVersion of every allowed character class is accepted', async () => {
    const id = freshDevice();
    const version = `Ab9.-+_${'x'.repeat(57)}`;
    assert.equal(version.length, 64);
    await offer(server.store, tenantA, [{ softwareType: 'partnerAgent', version }]);
    const location = await expectAccepted(await postAction(id, 'updateSoftware', { body: { softwareType: 'partnerAgent', softwareVersion: version } }));
    const [row] = await operationRows(server, 'id = ?', operationIdOf(location));
    assert.equal(row.software_version, version);
    assert.equal(row.software_type, 'partnerAgent');
  });

  test('every documented softwareType is accepted', async () => {
    const id = freshDevice();
    const types = ['adminAgent', 'operatingSystem', 'teamsClient', 'firmware', 'partnerAgent', 'companyPortal'];
    for (const softwareType of types) {
      await expectAccepted(await postAction(id, 'updateSoftware', { body: { softwareType, softwareVersion: '1.0.0' } }));
    }
    const rows = await operationRows(server, 'tenant_id = ? AND device_id = ?', tenantA, id);
    assert.deepEqual(rows.map((r) => r.software_type), types);
    assert.ok(rows.every((r) => r.software_version === '1.0.0'));
  });

  for (const action of ['restart', 'runDiagnostics'] as Action[]) {
    test(`${action}: no body, {} and an empty JSON body are all accepted`, async () => {
      // No body and no Content-Type.
      const first = freshDevice();
      const noBody = await server.request(`/beta/teamwork/devices/${first}/${action}`, { method: 'POST' });
      await expectAccepted(noBody);
      // {} as JSON.
      const second = freshDevice();
      await expectAccepted(await postJson(server, `/beta/teamwork/devices/${second}/${action}`, {}));
      // Content-Type: application/json with an empty body.
      const third = freshDevice();
      await expectAccepted(await postJson(server, `/beta/teamwork/devices/${third}/${action}`, ''));
      for (const id of [first, second, third]) assert.equal(await operationCount(id), 1);
    });

    test(`${action}: an unknown property is a 400 naming it`, async () => {
      const id = freshDevice();
      const error = await expectGraphError(await postJson(server, `/beta/teamwork/devices/${id}/${action}`, { x: 1 }), 400, 'invalidRequest');
      assert.match(error.message, /'x'/);
      await expectGraphError(await postJson(server, `/beta/teamwork/devices/${id}/${action}`, '[]'), 400, 'invalidRequest');
      await expectGraphError(await postJson(server, `/beta/teamwork/devices/${id}/${action}`, 'null'), 400, 'invalidRequest');
      await expectGraphError(await postJson(server, `/beta/teamwork/devices/${id}/${action}`, '{"a":'), 400, 'invalidRequest');
      assert.equal(await operationCount(id), 0);
    });
  }
});

describe('415, 413, 404 and 405 on actions', () => {
  const body = JSON.stringify(updateBody);

  test('415 for text/plain, for application/xml and for a body without Content-Type', async () => {
    const deviceId = freshDevice();
    const path = `/beta/teamwork/devices/${deviceId}/updateSoftware`;
    await expectGraphError(await server.request(path, { method: 'POST', headers: { 'content-type': 'text/plain' }, body }), 415, 'unsupportedMediaType');
    await expectGraphError(
      await server.request(path, { method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<softwareType>teamsClient</softwareType>' }),
      415,
      'unsupportedMediaType',
    );
    await expectGraphError(
      await server.request(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'softwareType=teamsClient' }),
      415,
      'unsupportedMediaType',
    );
    // A Uint8Array body makes fetch send no Content-Type at all.
    const noType = await server.request(path, { method: 'POST', body: new TextEncoder().encode(body) });
    await expectGraphError(noType, 415, 'unsupportedMediaType');
    // restart with a body that is not JSON is a 415 too.
    await expectGraphError(
      await server.request(`/beta/teamwork/devices/${deviceId}/restart`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'now' }),
      415,
      'unsupportedMediaType',
    );
    assert.equal(await operationCount(deviceId), 0);
  });

  test('application/json with parameters or in upper case is accepted', async () => {
    for (const type of ['application/json; charset=utf-8', 'application/json;odata.metadata=minimal', 'APPLICATION/JSON']) {
      const deviceId = freshDevice();
      await expectAccepted(
        await server.request(`/beta/teamwork/devices/${deviceId}/updateSoftware`, { method: 'POST', headers: { 'content-type': type }, body }),
      );
    }
  });

  test('look-alike media types are 415', async () => {
    const deviceId = freshDevice();
    for (const type of ['application/jsonp', 'application/json-patch+json', 'application/vnd.api+json', 'text/json']) {
      await expectGraphError(
        await server.request(`/beta/teamwork/devices/${deviceId}/updateSoftware`, { method: 'POST', headers: { 'content-type': type }, body }),
        415,
        'unsupportedMediaType',
      );
    }
    assert.equal(await operationCount(deviceId), 0);
  });

  test('413 for a body over 64 KiB', async () => {
    const deviceId = freshDevice();
    const big = JSON.stringify({ softwareType: 'teamsClient', softwareVersion: 'x'.repeat(70 * 1024) });
    const response = await postJson(server, `/beta/teamwork/devices/${deviceId}/updateSoftware`, big, { headers: { 'client-request-id': 'big-one' } });
    await expectGraphError(response, 413, 'requestEntityTooLarge', { clientRequestId: 'big-one' });
    assert.equal(await operationCount(deviceId), 0);
  });

  test('404 for an unknown device, and for another tenant’s device', async () => {
    const unknown = await postJson(server, '/beta/teamwork/devices/00000000-0000-4000-8000-000000000000/updateSoftware', updateBody);
    await expectGraphError(unknown, 404, 'itemNotFound');
    await expectGraphError(await server.request('/beta/teamwork/devices/no-such-device/restart', { method: 'POST' }), 404, 'itemNotFound');

    const tokenB = await server.token({ tenantId: tenantB });
    const listB = await server.request('/beta/teamwork/devices', { token: tokenB });
    assert.equal(listB.status, 200);
    const devicesB = ((await listB.json()) as { value: { id: string }[] }).value.map((d) => d.id);
    assert.equal(devicesB.length, 3);
    const deviceB = devicesB[0];
    assert.ok(!devices.includes(deviceB), 'tenant B device ids must differ from tenant A ones for this test');

    for (const action of ['updateSoftware', 'restart', 'runDiagnostics'] as Action[]) {
      await expectGraphError(await postAction(deviceB, action), 404, 'itemNotFound');
    }
    await expectGraphError(await server.request(`/beta/teamwork/devices/${deviceB}/operations`), 404, 'itemNotFound');
    assert.equal((await operationRows(server, 'device_id = ?', deviceB)).length, 0);

    // Tenant B's own token can act on it, and tenant A still cannot read the operation.
    const location = await expectAccepted(await postJson(server, `/beta/teamwork/devices/${deviceB}/updateSoftware`, updateBody, { token: tokenB }));
    const [row] = await operationRows(server, 'id = ?', operationIdOf(location));
    assert.equal(row.tenant_id, tenantB);
    await expectGraphError(await server.request(server.url + location), 404, 'itemNotFound');
    const own = await server.request(server.url + location, { token: tokenB });
    assert.equal(own.status, 200);
    await own.arrayBuffer();
  });

  test('405 for GET (and other methods) on an action', async () => {
    const deviceId = freshDevice();
    for (const path of [
      `/beta/teamwork/devices/${deviceId}/updateSoftware`,
      `/teamwork/devices/${deviceId}/microsoft.graph.updateSoftware`,
      `/beta/teamwork/devices/${deviceId}/restart`,
      `/beta/teamwork/devices/${deviceId}/runDiagnostics`,
    ]) {
      const response = await server.request(path, { headers: { 'client-request-id': 'get-on-action' } });
      assert.match(response.headers.get('allow') ?? '', /POST/);
      await expectGraphError(response, 405, 'methodNotAllowed', { clientRequestId: 'get-on-action' });
    }
    const put = await server.request(`/beta/teamwork/devices/${deviceId}/updateSoftware`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body,
    });
    await expectGraphError(put, 405, 'methodNotAllowed');
    const postOnList = await postJson(server, `/beta/teamwork/devices/${deviceId}/operations`, {});
    await expectGraphError(postOnList, 405, 'methodNotAllowed');
    assert.equal(await operationCount(deviceId), 0);
  });

  test('an unknown action is a 404', async () => {
    const deviceId = freshDevice();
    await expectGraphError(await postJson(server, `/beta/teamwork/devices/${deviceId}/factoryReset`, {}), 404, 'itemNotFound');
  });
});

describe('request ids', () => {
  test('client-request-id is echoed on 202 and errors; request-id is fresh for each reply', async () => {
    const deviceId = freshDevice();
    const accepted = await server.request(`/beta/teamwork/devices/${deviceId}/restart`, {
      method: 'POST',
      headers: { 'client-request-id': 'c0ffee-1' },
    });
    assert.equal(accepted.headers.get('client-request-id'), 'c0ffee-1');
    const acceptedId = accepted.headers.get('request-id');
    await expectAccepted(accepted);

    const conflict = await server.request(`/beta/teamwork/devices/${deviceId}/restart`, {
      method: 'POST',
      headers: { 'client-request-id': 'c0ffee-2' },
    });
    const error = await expectGraphError(conflict, 409, 'conflict', { clientRequestId: 'c0ffee-2' });
    assert.notEqual(error.innerError['request-id'], acceptedId);

    // Without a client-request-id the error still has one (the request id), and no header is invented.
    const plain = await server.request(`/beta/teamwork/devices/${deviceId}/restart`, { method: 'POST' });
    assert.equal(plain.headers.get('client-request-id'), null);
    const plainError = await expectGraphError(plain, 409, 'conflict');
    assert.equal(plainError.innerError['client-request-id'], plainError.innerError['request-id']);
  });
});
