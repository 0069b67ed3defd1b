/**
 * The query options real Graph clients send beyond Graph's documented ones, over real HTTP on
 * the test store: $count (and /$count), $orderby, $skip, $expand, option names in any case,
 * and a PowerShell-style `-All` walk while devices enroll. Expected results are computed from
 * an unfiltered listing, never hard-coded.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { seedDevices } from '../../src/seed/seed-devices.js';
import { operationAudit, makeOperation } from '../helpers/store-fixtures.js';
import { assertGraphShape } from '../helpers/graph-schema.js';
import { startTestServer, tenantA, tenantB, type TestServer } from '../helpers/test-server.js';

interface DeviceBody {
  id: string;
  deviceType: string;
  healthStatus: string | null;
  notes: string | null;
  createdDateTime: string;
  lastModifiedDateTime: string;
  currentUser: { displayName: string | null } | null;
  hardwareDetail: { model: string | null };
  [key: string]: unknown;
}

interface Collection<T> {
  '@odata.context': string;
  '@odata.count'?: number;
  '@odata.nextLink'?: string;
  value: T[];
}

let server: TestServer;
let allA: DeviceBody[];
/** a device of tenant A with 25 operations (more than an expansion carries) and one with none */
let busyDevice: DeviceBody;
let idleDevice: DeviceBody;
const busyOperations = 25;

async function get<T>(path: string, token?: string): Promise<{ res: Response; body: T }> {
  const res = await server.request(path, { token });
  const text = await res.text();
  return { res, body: (res.headers.get('content-type') ?? '').startsWith('application/json') ? JSON.parse(text) as T : text as T };
}

async function ok<T>(path: string, token?: string): Promise<T> {
  const { res, body } = await get<T>(path, token);
  assert.equal(res.status, 200, `GET ${path}: ${JSON.stringify(body).slice(0, 300)}`);
  return body;
}

async function badRequest(path: string, mention: RegExp): Promise<void> {
  const { res, body } = await get<{ error: { code: string; message: string } }>(path);
  assert.equal(res.status, 400, `${path}: ${res.status}`);
  assertGraphShape('microsoft.graph.ODataErrors.ODataError', body);
  assert.match(body.error.message, mention, path);
}

/** Every page from `path` on, following nextLinks. */
async function walk(path: string): Promise<{ items: DeviceBody[]; pages: Collection<DeviceBody>[] }> {
  const pages: Collection<DeviceBody>[] = [];
  let next: string | undefined = path;
  while (next) {
    assert.ok(pages.length < 300, 'the nextLinks do not end');
    const page: Collection<DeviceBody> = await ok<Collection<DeviceBody>>(next);
    pages.push(page);
    next = page['@odata.nextLink'];
  }
  return { items: pages.flatMap((page) => page.value), pages };
}

const q = encodeURIComponent;
const bytes = (value: string | null) => Buffer.from(value ?? '', 'utf8');
/** OData's order: a null before every value; strings in byte order (the stores' binary collation). */
function compare(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return Buffer.compare(bytes(a), bytes(b));
}

before(async () => {
  server = await startTestServer({ devicesA: 90, devicesB: 12 });
  allA = (await walk('/beta/teamwork/devices?$top=50')).items;
  [busyDevice, idleDevice] = allA;
  for (let i = 0; i < busyOperations; i++) {
    const operation = makeOperation({ tenantId: tenantA, id: busyDevice.id }, { status: 'successful', operationType: 'deviceRestart' });
    assert.equal(await server.store.createOperation(operation, operationAudit), 'created');
  }
});

after(async () => {
  await server?.stop();
});

describe('$count', () => {
  it('@odata.count is the number matching $filter across all pages, on every page', async () => {
    const filter = "deviceType eq 'teamsRoom' or healthStatus ne 'healthy'";
    const expected = allA.filter((d) => d.deviceType === 'teamsRoom' || d.healthStatus !== 'healthy').length;
    assert.ok(expected > 10 && expected < allA.length);
    const { items, pages } = await walk(`/beta/teamwork/devices?$filter=${q(filter)}&$count=true&$top=10`);
    assert.equal(items.length, expected);
    assert.ok(pages.length > 1);
    for (const page of pages) {
      assert.equal(page['@odata.count'], expected);
      assert.deepEqual(Object.keys(page).filter((k) => k !== '@odata.nextLink'), ['@odata.context', '@odata.count', 'value']);
    }
    assert.equal((await ok<Collection<DeviceBody>>('/teamwork/devices?$count=true&$top=1'))['@odata.count'], allA.length);
    assert.equal((await ok<Collection<DeviceBody>>('/teamwork/devices?$count=false'))['@odata.count'], undefined);
    assert.equal((await ok<Collection<DeviceBody>>('/teamwork/devices?$Count=TRUE&$top=1'))['@odata.count'], allA.length, 'option names and true in any case');
  });

  it('/$count answers the number as text/plain, with $filter, per tenant', async () => {
    for (const prefix of ['', '/beta']) {
      const { res, body } = await get<string>(`${prefix}/teamwork/devices/$count`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      assert.equal(body, String(allA.length));
    }
    const phones = allA.filter((d) => d.deviceType === 'ipPhone').length;
    assert.equal(await ok<string>(`/beta/teamwork/devices/$count?$filter=${q("deviceType eq 'ipPhone'")}`), String(phones));
    assert.equal(await ok<string>('/beta/teamwork/devices/$count', await server.token({ tenantId: tenantB })), '12');
    await badRequest(`/beta/teamwork/devices/$count?$filter=${q('nope eq 1')}`, /nope/);
    await badRequest('/beta/teamwork/devices/$count?$top=2', /\$top/);
  });

  it('counts a device’s operations, in the list and at /operations/$count; 400 for a count that is not true or false', async () => {
    const list = await ok<Collection<unknown>>(`/beta/teamwork/devices/${busyDevice.id}/operations?$count=true&$top=2`);
    assert.equal(list['@odata.count'], busyOperations);
    assert.equal(list.value.length, 2);
    assert.equal(await ok<string>(`/beta/teamwork/devices/${busyDevice.id}/operations/$count`), String(busyOperations));
    assert.equal(await ok<string>(`/teamwork/devices/${idleDevice.id}/operations/$count`), '0');
    const { res } = await get(`/beta/teamwork/devices/nope/operations/$count`);
    assert.equal(res.status, 404);
    await badRequest('/beta/teamwork/devices?$count=yes', /\$count/);
  });
});

describe('$orderby', () => {
  const cases: [string, (d: DeviceBody) => string | null][] = [
    ['displayName', (d) => d.currentUser?.displayName ?? null],
    ['notes desc', (d) => d.notes],
    ['createdDateTime desc', (d) => d.createdDateTime],
    ['lastModifiedDateTime asc', (d) => d.lastModifiedDateTime],
    ['hardwareDetail/model', (d) => d.hardwareDetail.model],
  ];

  for (const [orderby, value] of cases) {
    it(`pages exactly through $orderby=${orderby}, ties broken by id`, async () => {
      const descending = orderby.endsWith(' desc');
      const expected = [...allA].sort((a, b) => {
        const byKey = compare(value(a), value(b)) || compare(a.id, b.id);
        return descending ? -byKey : byKey;
      });
      const { items, pages } = await walk(`/beta/teamwork/devices?$orderby=${q(orderby)}&$top=7`);
      assert.deepEqual(items.map((d) => d.id), expected.map((d) => d.id));
      assert.ok(pages.slice(0, -1).every((page) => page.value.length === 7), 'pages in an explicit order are full');
    });
  }

  it('several keys, with a filter and $skip; names in any case', async () => {
    const filter = "deviceType ne 'teamsPanel'";
    const expected = allA.filter((d) => d.deviceType !== 'teamsPanel').sort((a, b) =>
      compare(a.healthStatus, b.healthStatus) || -compare(a.currentUser?.displayName ?? null, b.currentUser?.displayName ?? null) || -compare(a.id, b.id));
    const path = `/beta/teamwork/devices?$OrderBy=${q('HealthStatus asc, displayName DESC')}&$filter=${q(filter)}&$top=6`;
    assert.deepEqual((await walk(path)).items.map((d) => d.id), expected.map((d) => d.id));
    const skipped = await ok<Collection<DeviceBody>>(`${path}&$skip=4`);
    assert.deepEqual(skipped.value.map((d) => d.id), expected.slice(4, 10).map((d) => d.id));
    const next = new URL(skipped['@odata.nextLink'] ?? assert.fail('no nextLink'));
    assert.equal(next.searchParams.get('$skip'), null, 'the nextLink is already past the skipped devices');
    assert.deepEqual((await walk(next.toString())).items.map((d) => d.id), expected.slice(10).map((d) => d.id));
  });

  it('refuses unsupported keys and a $skiptoken made for another order', async () => {
    for (const orderby of ['id', 'hardwareDetail', 'createdBy desc', 'notes sideways', 'notes,notes', '', 'notes,']) {
      await badRequest(`/beta/teamwork/devices?$orderby=${q(orderby)}`, /\$orderby/);
    }
    const page = await ok<Collection<DeviceBody>>('/beta/teamwork/devices?$orderby=notes&$top=3');
    const token = new URL(page['@odata.nextLink']!).searchParams.get('$skiptoken')!;
    await badRequest(`/beta/teamwork/devices?$orderby=${q('notes desc')}&$top=3&$skiptoken=${token}`, /skiptoken/);
    await badRequest(`/beta/teamwork/devices?$top=3&$skiptoken=${token}`, /skiptoken/);
  });
});

describe('$skip', () => {
  it('devices: passes over that many in page order, then pages on from there', async () => {
    const ids = allA.map((d) => d.id);
    for (const skip of [0, 1, 13, 89, 90, 500]) {
      const page = await ok<Collection<DeviceBody>>(`/teamwork/devices?$skip=${skip}&$top=5`);
      assert.deepEqual(page.value.map((d) => d.id), ids.slice(skip, skip + 5), `skip ${skip}`);
    }
    const { items } = await walk('/teamwork/devices?$top=7&$skip=20');
    assert.deepEqual(items.map((d) => d.id), ids.slice(20));
    for (const bad of ['-1', 'x', '1.5', '9999999999']) await badRequest(`/teamwork/devices?$skip=${bad}`, /\$skip/);
  });

  it('operations: newest first, from the skipped one on', async () => {
    const all = await ok<Collection<{ id: string }>>(`/beta/teamwork/devices/${busyDevice.id}/operations?$top=50`);
    assert.equal(all.value.length, busyOperations);
    const page = await ok<Collection<{ id: string }>>(`/beta/teamwork/devices/${busyDevice.id}/operations?$top=4&$skip=3`);
    assert.deepEqual(page.value.map((o) => o.id), all.value.slice(3, 7).map((o) => o.id));
    const rest = await ok<Collection<{ id: string }>>(page['@odata.nextLink']!);
    assert.deepEqual(rest.value.map((o) => o.id), all.value.slice(7, 11).map((o) => o.id));
  });
});

describe('$expand', () => {
  it('expands documents and operations on the list, with nested $select, and continues the operations beyond 20', async () => {
    const page = await ok<Collection<DeviceBody>>(`/beta/teamwork/devices?$expand=${q('health($select=connection,id),operations($select=id,status)')}&$select=id&$top=50`);
    assertGraphShape('microsoft.graph.teamworkDeviceCollectionResponse', page, { partial: true });
    assert.equal(page.value.length, 50);
    for (const device of page.value) {
      assert.deepEqual(Object.keys(device).filter((k) => !k.startsWith('operations@')), ['@odata.type', 'id', 'health', 'operations']);
      const health = device.health as Record<string, unknown>;
      assert.deepEqual(Object.keys(health), ['@odata.type', 'connection', 'id']);
      assert.equal(health.id, device.id);
      const single = await ok<Record<string, unknown>>(`/beta/teamwork/devices/${device.id}/health`);
      assert.deepEqual(health.connection, single.connection, 'the expanded document is the device’s own');
    }
    const busy = page.value.find((d) => d.id === busyDevice.id)!;
    const operations = busy.operations as { id: string; status: string }[];
    assert.equal(operations.length, 20);
    assert.deepEqual(Object.keys(operations[0]), ['@odata.type', 'id', 'status']);
    const all = await ok<Collection<{ id: string }>>(`/beta/teamwork/devices/${busyDevice.id}/operations?$top=50`);
    assert.deepEqual(operations.map((o) => o.id), all.value.slice(0, 20).map((o) => o.id), 'newest first');
    const more = await ok<Collection<{ id: string }>>(busy['operations@odata.nextLink'] as string);
    assert.deepEqual(more.value.map((o) => o.id), all.value.slice(20).map((o) => o.id));
    const idle = page.value.find((d) => d.id === idleDevice.id)!;
    assert.deepEqual(idle.operations, []);
    assert.equal(idle['operations@odata.nextLink'], undefined);
  });

  it('expands * on a single device: the three documents equal their own GETs', async () => {
    const device = await ok<Record<string, unknown>>(`/teamwork/devices/${busyDevice.id}?$expand=*`);
    assertGraphShape('microsoft.graph.teamworkDevice', device, { partial: true });
    for (const kind of ['health', 'activity', 'configuration']) {
      const own = await ok<Record<string, unknown>>(`/teamwork/devices/${busyDevice.id}/${kind}`);
      delete own['@odata.context'];
      assert.deepEqual(device[kind], own, kind);
    }
    assert.equal((device.operations as unknown[]).length, 20);
    const plain = await ok<Record<string, unknown>>(`/teamwork/devices/${busyDevice.id}?$expand=activity&$select=id,notes`);
    assert.deepEqual(Object.keys(plain), ['@odata.context', '@odata.type', 'id', 'notes', 'activity']);
  });

  it('refuses anything else in $expand, naming it', async () => {
    const cases: [string, RegExp][] = [
      ['createdBy', /createdBy/], ['health($top=1)', /\$top|top/], ['health($select=nope)', /nope/], ['health,health', /more than once/],
      ['health(', /parenthes/], ['*($select=id)', /\*/], ['', /empty/], ['operations($expand=x)', /expand/],
    ];
    for (const [expand, mention] of cases) {
      await badRequest(`/beta/teamwork/devices?$expand=${q(expand)}`, mention);
      await badRequest(`/beta/teamwork/devices/${idleDevice.id}?$expand=${q(expand)}`, mention);
    }
  });
});

describe('a PowerShell-style -All walk', () => {
  for (const [name, query] of [['id order', ''], ['$orderby', `&$orderby=${q('displayName desc')}`]]) {
    it(`with ${name}: $count, then nextLinks, sees every device that existed once and none twice while others enroll`, async () => {
      const before = new Set(allA.map((d) => d.id));
      const first = await ok<Collection<DeviceBody>>(`/beta/teamwork/devices?$count=true&$top=9${query}`);
      assert.ok(first['@odata.count']! >= allA.length);
      const seen = [...first.value];
      let next = first['@odata.nextLink'];
      let enrolled = 0;
      while (next) {
        // Devices enroll between pages, before and after the walk's position.
        await seedDevices(server.store, { tenantId: tenantA, count: 3, seed: 1000 + enrolled });
        enrolled += 3;
        const page: Collection<DeviceBody> = await ok<Collection<DeviceBody>>(next);
        seen.push(...page.value);
        next = page['@odata.nextLink'];
      }
      const ids = seen.map((d) => d.id);
      assert.equal(new Set(ids).size, ids.length, 'no device twice');
      for (const id of before) assert.ok(ids.includes(id), `device ${id} existed when the walk began and was not seen`);
      assert.ok(enrolled > 0);
    });
  }
});
