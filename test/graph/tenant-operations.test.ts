import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { deviceIds, expectGraphError, isIsoDate } from '../helpers/http-assertions.js';
import { cancelOperation, requestOperation, type ActionName } from '../helpers/graph-operations.js';
import { startTestServer, tenantB, type TestServer } from '../helpers/test-server.js';

/**
 * GET /teamwork/devices/operations (beyond Graph): the tenant's operations across its devices,
 * newest first, over real HTTP on the store TWD_TEST_STORE names: every page of every filter
 * against the database, the counts, the 400s, and who may see what.
 */

interface ListedOperation {
  '@odata.type': string;
  id: string;
  deviceId: string;
  status: string;
  operationType: string;
  createdDateTime: string;
}

interface OperationRowView {
  id: string;
  device_id: string;
  tenant_id: string;
  status: string;
  operation_type: string;
  created_at: string | Date;
  seq: number | string;
}

let server: TestServer;
let devicesA: string[] = [];
let tokenB: string;
const operationsB: string[] = [];

const actionsInTurn: ActionName[] = ['restart', 'runDiagnostics', 'updateSoftware'];
const updateBody = { softwareType: 'teamsClient', softwareVersion: '1.0.96.22' };

before(async () => {
  server = await startTestServer({ devicesA: 12, devicesB: 2 });
  devicesA = await deviceIds(server, 12);
  // 36 operations of tenant A: each device one of each kind, a third of them withdrawn.
  let n = 0;
  for (const action of actionsInTurn) {
    for (const deviceId of devicesA) {
      const operationId = await requestOperation(server, deviceId, action, action === 'updateSoftware' ? updateBody : undefined);
      if (n++ % 3 === 0) assert.equal((await cancelOperation(server, deviceId, operationId)).status, 200);
    }
  }
  tokenB = await server.token({ tenantId: tenantB });
  const pageB = await (await server.request('/beta/teamwork/devices?$select=id', { token: tokenB })).json() as { value: { id: string }[] };
  for (const { id } of pageB.value) {
    const response = await server.request(`/beta/teamwork/devices/${id}/restart`, { method: 'POST', token: tokenB });
    assert.equal(response.status, 202);
    operationsB.push(response.headers.get('location')!.split('/').pop()!);
  }
});

after(async () => {
  await server?.stop();
});

/** Tenant A's operations as the database holds them, newest first (created_at, then seq). */
async function rowsNewestFirst(): Promise<OperationRowView[]> {
  const rows = await server.query<OperationRowView>('SELECT id, device_id, tenant_id, status, operation_type, created_at, seq FROM operations WHERE tenant_id <> ?', [tenantB]);
  const created = (row: OperationRowView) => new Date(row.created_at).getTime();
  return rows.sort((a, b) => created(b) - created(a) || Number(b.seq) - Number(a.seq));
}

/** Follows @odata.nextLink to the end; returns every page. */
async function allPages(path: string, token?: string): Promise<{ value: ListedOperation[]; '@odata.count'?: number; '@odata.nextLink'?: string }[]> {
  const pages = [];
  let url: string | undefined = path;
  while (url) {
    const response = await server.request(url, { token });
    const text = await response.text();
    assert.equal(response.status, 200, `${url}: ${text}`);
    const page = JSON.parse(text);
    pages.push(page);
    url = page['@odata.nextLink'];
    assert.ok(pages.length < 100, 'paging ends');
  }
  return pages;
}

describe('the tenant operation list', () => {
  test('lists every operation of the tenant newest first, each in Graph\'s shape with its deviceId', async () => {
    const expected = await rowsNewestFirst();
    assert.equal(expected.length, 36);
    const pages = await allPages('/beta/teamwork/devices/operations?$top=50');
    assert.equal(pages.length, 1);
    const [page] = pages;
    assert.equal(page['@odata.nextLink'], undefined);
    assert.match((page as unknown as Record<string, string>)['@odata.context'], /\/beta\/\$metadata#teamwork\/devices\/operations$/);
    assert.deepEqual(page.value.map((op) => op.id), expected.map((row) => row.id));
    for (const [i, op] of page.value.entries()) {
      assert.equal(op['@odata.type'], '#microsoft.graph.teamworkDeviceOperation');
      assert.equal(op.deviceId, expected[i].device_id);
      assert.equal(op.status, expected[i].status);
      assert.equal(op.operationType, expected[i].operation_type);
      assert.ok(isIsoDate(op.createdDateTime));
      for (const property of ['error', 'startedDateTime', 'completedDateTime', 'lastActionDateTime', 'createdBy', 'lastActionBy']) {
        assert.ok(property in op, `${property} present`);
      }
    }
  });

  test('the default page is 20, and $top is capped at 50', async () => {
    const first = await (await server.request('/teamwork/devices/operations')).json() as { value: unknown[]; '@odata.nextLink'?: string };
    assert.equal(first.value.length, 20);
    assert.ok(first['@odata.nextLink']);
    const capped = await (await server.request('/beta/teamwork/devices/operations?$top=500')).json() as { value: unknown[] };
    assert.equal(capped.value.length, 36);
  });

  test('every page of every filter, followed to the end, holds exactly the matching operations once, and the counts agree', async () => {
    const rows = await rowsNewestFirst();
    const middle = rows[17];
    const middleAt = new Date(middle.created_at).toISOString();
    const cases: { filter: string; matches: (row: OperationRowView) => boolean }[] = [
      { filter: '', matches: () => true },
      { filter: "status eq 'cancelled'", matches: (row) => row.status === 'cancelled' },
      { filter: "operationType eq 'deviceDiagnostics'", matches: (row) => row.operation_type === 'deviceDiagnostics' },
      { filter: "status eq 'queued' and operationType eq 'softwareUpdate'", matches: (row) => row.status === 'queued' && row.operation_type === 'softwareUpdate' },
      { filter: `createdDateTime ge ${middleAt}`, matches: (row) => new Date(row.created_at).getTime() >= Date.parse(middleAt) },
      { filter: `createdDateTime lt ${middleAt}`, matches: (row) => new Date(row.created_at).getTime() < Date.parse(middleAt) },
      { filter: `createdDateTime le '${middleAt}' and status eq 'queued'`, matches: (row) => new Date(row.created_at).getTime() <= Date.parse(middleAt) && row.status === 'queued' },
      { filter: `operationType eq 'deviceRestart' and createdDateTime gt datetime'${middleAt}'`, matches: (row) => row.operation_type === 'deviceRestart' && new Date(row.created_at).getTime() > Date.parse(middleAt) },
      { filter: "Status eq 'Cancelled' and status eq 'queued'", matches: () => false },
    ];
    for (const { filter, matches } of cases) {
      const expected = rows.filter(matches).map((row) => row.id);
      const query = filter ? `$filter=${encodeURIComponent(filter)}&` : '';
      const pages = await allPages(`/beta/teamwork/devices/operations?${query}$top=4&$count=true`);
      const listed = pages.flatMap((page) => page.value.map((op) => op.id));
      assert.deepEqual(listed, expected, `pages of ${filter || 'no filter'}`);
      assert.equal(pages.length, Math.max(1, Math.ceil(expected.length / 4)), `full pages of ${filter || 'no filter'}`);
      for (const page of pages) assert.equal(page['@odata.count'], expected.length, `@odata.count of ${filter || 'no filter'}`);
      const count = await server.request(`/beta/teamwork/devices/operations/$count${filter ? `?$filter=${encodeURIComponent(filter)}` : ''}`);
      assert.equal(count.status, 200);
      assert.match(count.headers.get('content-type') ?? '', /^text\/plain/);
      assert.equal(await count.text(), String(expected.length), `/$count of ${filter || 'no filter'}`);
    }
  });

  test('$select may name deviceId', async () => {
    const page = await (await server.request('/beta/teamwork/devices/operations?$select=id,deviceId&$top=2')).json() as { value: Record<string, unknown>[] };
    assert.deepEqual(Object.keys(page.value[0]).sort(), ['@odata.type', 'deviceId', 'id']);
  });

  test('the static segment and a device id both route: …/devices/operations and …/devices/{id}', async () => {
    for (const prefix of ['/beta', '']) {
      const list = await server.request(`${prefix}/teamwork/devices/operations?$top=1`);
      assert.equal(list.status, 200);
      assert.equal(((await list.json()) as { value: unknown[] }).value.length, 1);
      const device = await server.request(`${prefix}/teamwork/devices/${devicesA[0]}`);
      assert.equal(device.status, 200);
      assert.equal(((await device.json()) as { id: string }).id, devicesA[0]);
      const deviceOperations = await server.request(`${prefix}/teamwork/devices/${devicesA[0]}/operations`);
      assert.equal(((await deviceOperations.json()) as { value: unknown[] }).value.length, 3);
    }
    await expectGraphError(await server.request('/beta/teamwork/devices/operations', { method: 'POST' }), 405, 'methodNotAllowed');
  });

  test('what the list does not support is a 400 naming it', async () => {
    const refused: [string, RegExp][] = [
      ["status ne 'queued'", /operator 'ne'/],
      ["status eq 'queued' or status eq 'failed'", /operator 'or'/],
      ["deviceType eq 'teamsRoom'", /property 'deviceType'/],
      ["startswith(status,'q')", /not a condition|operator 'call'/],
      ["status eq 'done'", /'done' is not a status member/],
      ["operationType eq 'reboot'", /'reboot' is not a operationType member|operationType member/],
      ['createdDateTime ge 2026-13-45T00:00:00Z', /ISO 8601/],
      ["createdDateTime ge 'yesterday'", /ISO 8601/],
      ['createdDateTime ge 0000-01-01T00:00:00Z', /ISO 8601/],
      ["createdDateTime lt '+010000-01-01T00:00:00Z'", /ISO 8601/],
      ['createdDateTime eq 2026-01-01T00:00:00Z', /'eq' on createdDateTime/],
      ["status gt 'queued'", /'gt' on status/],
      ['status eq', /Invalid \$filter/],
    ];
    for (const [filter, message] of refused) {
      const error = await expectGraphError(await server.request(`/beta/teamwork/devices/operations?$filter=${encodeURIComponent(filter)}`), 400, 'invalidRequest');
      assert.match(error.message, message, filter);
      const count = await expectGraphError(await server.request(`/beta/teamwork/devices/operations/$count?$filter=${encodeURIComponent(filter)}`), 400, 'invalidRequest');
      assert.match(count.message, message, `$count ${filter}`);
    }
    for (const option of ['$orderby=createdDateTime', '$expand=device', '$skip=2', '$top=0', '$count=maybe', '$select=softwareVersion']) {
      await expectGraphError(await server.request(`/beta/teamwork/devices/operations?${option}`), 400, 'invalidRequest');
    }
  });

  test('a $skiptoken works only for the query it was issued for, and an altered one is a 400', async () => {
    const first = await (await server.request("/beta/teamwork/devices/operations?$top=2&$filter=status eq 'queued'")).json() as { '@odata.nextLink': string };
    const token = new URL(first['@odata.nextLink']).searchParams.get('$skiptoken')!;
    const other = await server.request(`/beta/teamwork/devices/operations?$top=2&$filter=${encodeURIComponent("status eq 'cancelled'")}&$skiptoken=${token}`);
    assert.match((await expectGraphError(other, 400, 'invalidRequest')).message, /different query/);
    const altered = Buffer.from(JSON.stringify({ p: { createdDateTime: 'never', seq: 1 }, f: 'x' })).toString('base64url');
    await expectGraphError(await server.request(`/beta/teamwork/devices/operations?$skiptoken=${altered}`), 400, 'invalidRequest');
    await expectGraphError(await server.request('/beta/teamwork/devices/operations?$skiptoken=%%%'), 400, 'invalidRequest');
    // A position the databases cannot compare with (PostgreSQL has no year 0) is refused, not a 500.
    const fingerprint = JSON.parse(Buffer.from(token, 'base64url').toString()).f as string;
    for (const createdDateTime of ['0000-06-01T00:00:00.000Z', '+010000-01-01T00:00:00.000Z']) {
      const yearZero = Buffer.from(JSON.stringify({ p: { createdDateTime, seq: 5 }, f: fingerprint })).toString('base64url');
      await expectGraphError(await server.request(`/beta/teamwork/devices/operations?$top=2&$filter=${encodeURIComponent("status eq 'queued'")}&$skiptoken=${yearZero}`), 400, 'invalidRequest');
    }
    const early = Buffer.from(JSON.stringify({ p: { createdDateTime: '0001-01-01T00:00:00.000Z', seq: 5 }, f: fingerprint })).toString('base64url');
    const none = await server.request(`/beta/teamwork/devices/operations?$top=2&$filter=${encodeURIComponent("status eq 'queued'")}&$skiptoken=${early}`);
    assert.equal(none.status, 200);
    assert.deepEqual(((await none.json()) as { value: unknown[] }).value, []);
  });
});

describe('who may list operations', () => {
  test("another tenant's operations never appear, and it sees only its own", async () => {
    const pagesA = await allPages('/beta/teamwork/devices/operations?$top=50');
    const idsA = pagesA.flatMap((page) => page.value.map((op) => op.id));
    for (const id of operationsB) assert.ok(!idsA.includes(id), 'tenant B operation absent from A');
    const pagesB = await allPages('/beta/teamwork/devices/operations?$top=50&$count=true', tokenB);
    assert.deepEqual(pagesB.flatMap((page) => page.value.map((op) => op.id)).sort(), [...operationsB].sort());
    assert.equal(pagesB[0]['@odata.count'], operationsB.length);
    const countB = await server.request('/beta/teamwork/devices/operations/$count', { token: tokenB });
    assert.equal(await countB.text(), String(operationsB.length));
  });

  test('no token, an expired token, a forged one, and one without a Teamwork permission are refused', async () => {
    await expectGraphError(await server.request('/beta/teamwork/devices/operations', { token: null }), 401, 'unauthenticated');
    const expired = await server.token({ ttlSeconds: -120 });
    await expectGraphError(await server.request('/beta/teamwork/devices/operations', { token: expired }), 401, 'unauthenticated');
    const valid = await server.token();
    const forged = valid.slice(0, valid.lastIndexOf('.') + 1) + Buffer.from('not the signature').toString('base64url');
    await expectGraphError(await server.request('/beta/teamwork/devices/operations/$count', { token: forged }), 401, 'unauthenticated');
    const unrelated = await server.token({ scopes: ['User.Read'] });
    await expectGraphError(await server.request('/beta/teamwork/devices/operations', { token: unrelated }), 403, 'accessDenied');
    const readOnly = await server.token({ scopes: ['TeamworkDevice.Read.All'] });
    assert.equal((await server.request('/beta/teamwork/devices/operations', { token: readOnly })).status, 200);
  });
});
