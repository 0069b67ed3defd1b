/**
 * The read side of the Graph API over real HTTP against a real SQLite file: listing and
 * paging devices, $filter/$select/$top/$skiptoken, single devices and their health,
 * activity and configuration documents, operations lists, tenant isolation, ids in headers,
 * and the Graph error body for every failure. Expected results of $filter are computed from
 * an unfiltered listing, never hard-coded.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertGraphShape, type GraphType } from '../helpers/graph-schema.js';
import { startTestServer, tenantA, tenantB, type TestServer } from '../helpers/test-server.js';

const devicesA = 120;
const devicesB = 30;

interface DeviceBody {
  '@odata.type': string;
  id: string;
  deviceType: string;
  healthStatus: string | null;
  activityState: string | null;
  companyAssetTag: string | null;
  notes: string | null;
  hardwareDetail: { uniqueId: string | null; serialNumber: string | null; manufacturer: string | null; model: string | null; macAddresses: string[] };
  currentUser: { id: string | null; displayName: string | null; userIdentityType: string | null } | null;
  [key: string]: unknown;
}

interface Collection<T> {
  '@odata.context': string;
  '@odata.nextLink'?: string;
  value: T[];
}

interface GraphErrorBody {
  error: { code: string; message: string; innerError: Record<string, string> };
}

const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

let server: TestServer;
let tokenB: string;
/** every device of tenant A, from an unfiltered listing */
let allA: DeviceBody[];
let allB: DeviceBody[];

async function getJson<T>(path: string, init: RequestInit & { token?: string | null } = {}): Promise<{ res: Response; body: T }> {
  const res = await server.request(path, init);
  const text = await res.text();
  let body: T;
  try {
    body = JSON.parse(text) as T;
  } catch {
    assert.fail(`${init.method ?? 'GET'} ${path}: ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  return { res, body };
}

async function ok<T>(path: string, init: RequestInit & { token?: string | null } = {}): Promise<{ res: Response; body: T }> {
  const result = await getJson<T>(path, init);
  assert.equal(result.res.status, 200, `GET ${path}: ${JSON.stringify(result.body).slice(0, 400)}`);
  assert.match(result.res.headers.get('content-type') ?? '', /^application\/json/);
  return result;
}

/** Follows nextLinks from `path` to the end; every page is a valid collection. */
async function listAll(path: string, options: { token?: string; type?: GraphType; partial?: boolean } = {}): Promise<{ items: DeviceBody[]; pages: number }> {
  const items: DeviceBody[] = [];
  let next: string | undefined = path;
  let pages = 0;
  while (next) {
    assert.ok(pages < 200, 'too many pages: the nextLinks do not end');
    const { body }: { body: Collection<DeviceBody> } = await ok<Collection<DeviceBody>>(next, { token: options.token });
    assertGraphShape(options.type ?? 'microsoft.graph.teamworkDeviceCollectionResponse', body, { partial: options.partial });
    items.push(...body.value);
    pages += 1;
    next = body['@odata.nextLink'];
    if (next) assert.ok(next.startsWith(`${server.url}/`), `nextLink is not absolute on this server: ${next}`);
  }
  return { items, pages };
}

function idsOf(devices: { id: string }[]): string[] {
  return devices.map((d) => d.id).sort();
}

const q = (filter: string) => encodeURIComponent(filter);

/** Lists with $filter (all pages) and compares the ids with those the predicate picks from allA. */
async function assertFilter(filter: string, predicate: (d: DeviceBody) => boolean, expectSome = true): Promise<void> {
  const expected = idsOf(allA.filter(predicate));
  if (expectSome) {
    assert.ok(expected.length > 0, `test data has no device for ${filter}`);
    assert.ok(expected.length < allA.length, `every device matches ${filter}; the test would prove nothing`);
  }
  const { items } = await listAll(`/beta/teamwork/devices?$filter=${q(filter)}&$top=50`);
  assert.deepEqual(idsOf(items), expected, `$filter=${filter}`);
}

/** A 400 with the Graph error body whose message matches `mention`. */
async function assertBadRequest(path: string, mention: RegExp, init: RequestInit & { token?: string | null } = {}): Promise<GraphErrorBody> {
  const { res, body } = await getJson<GraphErrorBody>(path, init);
  assert.equal(res.status, 400, `${path}: expected 400, got ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
  assertGraphShape('microsoft.graph.ODataErrors.ODataError', body);
  assert.equal(body.error.code, 'invalidRequest');
  assert.match(body.error.message, mention, `${path}: message does not name the problem`);
  return body;
}

async function assertNotFound(path: string, init: RequestInit & { token?: string | null } = {}): Promise<GraphErrorBody> {
  const { res, body } = await getJson<GraphErrorBody>(path, init);
  assert.equal(res.status, 404, `${path}: expected 404, got ${res.status}`);
  assertGraphShape('microsoft.graph.ODataErrors.ODataError', body);
  assert.equal(body.error.code, 'itemNotFound');
  return body;
}

function firstWhere(predicate: (d: DeviceBody) => boolean, what: string): DeviceBody {
  const found = allA.find(predicate);
  assert.ok(found, `test data has no device with ${what}`);
  return found;
}

const roomTypes = new Set(['teamsRoom', 'surfaceHub', 'collaborationBar']);

before(async () => {
  server = await startTestServer({ devicesA, devicesB });
  tokenB = await server.token({ tenantId: tenantB });
  allA = (await listAll('/beta/teamwork/devices?$top=50')).items;
  allB = (await listAll('/beta/teamwork/devices?$top=50', { token: tokenB })).items;
});

after(async () => {
  await server?.stop();
});

describe('list devices', () => {
  it('sees exactly the seeded devices of the caller’s tenant', () => {
    assert.equal(allA.length, devicesA);
    assert.equal(new Set(idsOf(allA)).size, devicesA);
    assert.equal(allB.length, devicesB);
    const idsA = new Set(idsOf(allA));
    assert.ok(allB.every((d) => !idsA.has(d.id)), 'tenant B sees a device of tenant A');
  });

  it('returns 20 devices by default, with @odata.context and an absolute @odata.nextLink', async () => {
    const { res, body } = await ok<Collection<DeviceBody>>('/beta/teamwork/devices');
    assertGraphShape('microsoft.graph.teamworkDeviceCollectionResponse', body);
    assert.equal(body.value.length, 20);
    assert.equal(body['@odata.context'], `${server.url}/beta/$metadata#teamwork/devices`);
    const next = new URL(body['@odata.nextLink'] ?? assert.fail('no nextLink on the first of 6 pages'));
    assert.equal(next.origin, new URL(server.url).origin);
    assert.equal(next.pathname, '/beta/teamwork/devices');
    assert.ok(next.searchParams.get('$skiptoken'), 'nextLink has no $skiptoken');
    assert.match(res.headers.get('request-id') ?? '', guid);
    for (const device of body.value) {
      assert.equal(device['@odata.type'], '#microsoft.graph.teamworkDevice');
      assert.equal(device['@odata.context'], undefined, 'collection items carry no @odata.context');
    }
  });

  it('honours $top: 1, 50, and clamps 51 (and 1000) to 50', async () => {
    for (const [top, expected] of [['1', 1], ['50', 50], ['51', 50], ['1000', 50], ['7', 7]] as const) {
      const { body } = await ok<Collection<DeviceBody>>(`/beta/teamwork/devices?$top=${top}`);
      assert.equal(body.value.length, expected, `$top=${top}`);
      assert.ok(body['@odata.nextLink'], `$top=${top}: no nextLink though ${devicesA} devices exist`);
    }
  });

  it('rejects a $top that is not a whole number from 1 up with a Graph error', async () => {
    for (const top of ['0', '-1', 'abc', '1.5', '', '1e2', '0x10']) {
      await assertBadRequest(`/beta/teamwork/devices?$top=${encodeURIComponent(top)}`, /\$top/);
    }
  });

  it('pages through every device of the tenant exactly once, whatever the page size', async () => {
    for (const [top, pages] of [[undefined, 6], [7, 18], [50, 3], [1, 120]] as const) {
      const path = top === undefined ? '/beta/teamwork/devices' : `/beta/teamwork/devices?$top=${top}`;
      const result = await listAll(path);
      assert.equal(result.pages, pages, `${path}: pages`);
      assert.equal(result.items.length, devicesA, `${path}: devices seen`);
      assert.deepEqual(idsOf(result.items), idsOf(allA), `${path}: not every device exactly once`);
      const idsB = new Set(idsOf(allB));
      assert.ok(result.items.every((d) => !idsB.has(d.id)), `${path}: a device of tenant B appeared`);
    }
  });

  it('keeps $filter, $select and $top in the nextLink', async () => {
    const filter = "deviceType ne 'ipPhone'";
    const path = `/beta/teamwork/devices?$filter=${q(filter)}&$select=id,deviceType&$top=7`;
    const { body } = await ok<Collection<DeviceBody>>(path);
    assert.equal(body['@odata.context'], `${server.url}/beta/$metadata#teamwork/devices(id,deviceType)`);
    const link = body['@odata.nextLink'];
    assert.ok(link, 'no nextLink');
    const next = new URL(link);
    assert.equal(next.origin + next.pathname, `${server.url}/beta/teamwork/devices`);
    assert.equal(next.searchParams.get('$filter'), filter);
    assert.equal(next.searchParams.get('$select'), 'id,deviceType');
    assert.equal(next.searchParams.get('$top'), '7');
    assert.ok(next.searchParams.get('$skiptoken'));

    const { items } = await listAll(path, { partial: true });
    assert.deepEqual(idsOf(items), idsOf(allA.filter((d) => d.deviceType !== 'ipPhone')));
    for (const item of items) {
      assert.deepEqual(Object.keys(item).sort(), ['@odata.type', 'deviceType', 'id']);
      assert.notEqual(item.deviceType, 'ipPhone');
    }
  });

  it('builds nextLink and @odata.context without /beta when called without it', async () => {
    const { body } = await ok<Collection<DeviceBody>>('/teamwork/devices?$top=3');
    assert.equal(body['@odata.context'], `${server.url}/$metadata#teamwork/devices`);
    const next = new URL(body['@odata.nextLink'] ?? assert.fail('no nextLink'));
    assert.equal(next.pathname, '/teamwork/devices');
    const { items } = await listAll('/teamwork/devices?$top=50');
    assert.deepEqual(idsOf(items), idsOf(allA));
  });

  it('rejects a garbage $skiptoken with 400', async () => {
    const forged = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    for (const token of ['garbage', '!!!', '', forged({ p: 5 }), forged([]), forged(null), forged({ f: 'x' })]) {
      await assertBadRequest(`/beta/teamwork/devices?$skiptoken=${encodeURIComponent(token)}`, /skiptoken/i);
    }
  });

  it('rejects a $skiptoken reused with another $filter (or none)', async () => {
    const { body } = await ok<Collection<DeviceBody>>(`/beta/teamwork/devices?$filter=${q("deviceType eq 'teamsRoom'")}&$top=2`);
    const token = new URL(body['@odata.nextLink'] ?? assert.fail('no nextLink')).searchParams.get('$skiptoken') ?? '';
    await assertBadRequest(`/beta/teamwork/devices?$filter=${q("deviceType eq 'ipPhone'")}&$top=2&$skiptoken=${encodeURIComponent(token)}`, /skiptoken/i);
    await assertBadRequest(`/beta/teamwork/devices?$top=2&$skiptoken=${encodeURIComponent(token)}`, /skiptoken/i);
    // …while the same filter with the token works
    await ok(`/beta/teamwork/devices?$filter=${q("deviceType eq 'teamsRoom'")}&$top=2&$skiptoken=${encodeURIComponent(token)}`);
  });

  it('accepts skiptoken, top and filter without the $ (beta), and $skipToken spelled as documented', async () => {
    const { body } = await ok<Collection<DeviceBody>>(`/beta/teamwork/devices?top=5&filter=${q("deviceType eq 'teamsRoom'")}`);
    assert.equal(body.value.length, 5);
    assert.ok(body.value.every((d) => d.deviceType === 'teamsRoom'));
    const next = new URL(body['@odata.nextLink'] ?? assert.fail('no nextLink'));
    const token = next.searchParams.get('$skiptoken') ?? '';

    const { items } = await listAll(`/beta/teamwork/devices?top=5&filter=${q("deviceType eq 'teamsRoom'")}`);
    assert.deepEqual(idsOf(items), idsOf(allA.filter((d) => d.deviceType === 'teamsRoom')));

    const viaDollar = await ok<Collection<DeviceBody>>(`/beta/teamwork/devices?$top=5&$filter=${q("deviceType eq 'teamsRoom'")}&$skiptoken=${token}`);
    const viaBare = await ok<Collection<DeviceBody>>(`/beta/teamwork/devices?top=5&filter=${q("deviceType eq 'teamsRoom'")}&skiptoken=${token}`);
    const viaCamel = await ok<Collection<DeviceBody>>(`/beta/teamwork/devices?$top=5&$filter=${q("deviceType eq 'teamsRoom'")}&$skipToken=${token}`);
    assert.deepEqual(idsOf(viaBare.body.value), idsOf(viaDollar.body.value));
    assert.deepEqual(idsOf(viaCamel.body.value), idsOf(viaDollar.body.value));
    assert.notDeepEqual(idsOf(viaDollar.body.value), idsOf(body.value), 'the skiptoken did not move to the next page');
  });

  it('rejects an option given twice, and ignores parameters that are not OData options', async () => {
    await assertBadRequest('/beta/teamwork/devices?$top=1&$top=2', /\$top/);
    await assertBadRequest('/beta/teamwork/devices?$top=1&top=2', /\$top/);
    const { body } = await ok<Collection<DeviceBody>>('/beta/teamwork/devices?$top=3&foo=bar');
    assert.equal(body.value.length, 3);
  });
});

describe('$filter', () => {
  it("deviceType eq 'teamsRoom', PascalCase 'TeamsRoom' and the qualified enum literal", async () => {
    const isRoom = (d: DeviceBody) => d.deviceType === 'teamsRoom';
    await assertFilter("deviceType eq 'teamsRoom'", isRoom);
    await assertFilter("deviceType eq 'TeamsRoom'", isRoom);
    await assertFilter("deviceType eq microsoft.graph.teamworkDeviceType'teamsRoom'", isRoom);
    await assertFilter("healthStatus eq 'Healthy'", (d) => d.healthStatus === 'healthy');
  });

  it('hardwareDetail/uniqueId eq and currentUser/id eq pick the device', async () => {
    const device = firstWhere((d) => d.hardwareDetail.uniqueId !== null, 'a uniqueId');
    await assertFilter(`hardwareDetail/uniqueId eq '${device.hardwareDetail.uniqueId}'`, (d) => d.hardwareDetail.uniqueId === device.hardwareDetail.uniqueId);
    const withUser = firstWhere((d) => d.currentUser?.id != null, 'a current user');
    await assertFilter(`currentUser/id eq '${withUser.currentUser?.id}'`, (d) => d.currentUser?.id === withUser.currentUser?.id);
    await assertFilter("hardwareDetail/uniqueId eq 'no-such-device'", () => false, false);
  });

  it('ne, in and not', async () => {
    await assertFilter("deviceType ne 'ipPhone'", (d) => d.deviceType !== 'ipPhone');
    await assertFilter("deviceType in ('teamsRoom','teamsPanel')", (d) => d.deviceType === 'teamsRoom' || d.deviceType === 'teamsPanel');
    await assertFilter("not (deviceType eq 'teamsRoom')", (d) => d.deviceType !== 'teamsRoom');
    // OData: null ne 'x' is true, and not(null eq 'x') is true
    const tag = firstWhere((d) => d.companyAssetTag !== null, 'an asset tag').companyAssetTag;
    await assertFilter(`companyAssetTag ne '${tag}'`, (d) => d.companyAssetTag !== tag);
    await assertFilter(`not (companyAssetTag eq '${tag}')`, (d) => d.companyAssetTag !== tag);
  });

  it('startswith on hardwareDetail/model and displayName, case-sensitive and without wildcards', async () => {
    const model = firstWhere((d) => (d.hardwareDetail.model ?? '').length > 3, 'a model').hardwareDetail.model ?? '';
    const prefix = model.slice(0, 2);
    await assertFilter(`startswith(hardwareDetail/model,'${prefix}')`, (d) => (d.hardwareDetail.model ?? '').startsWith(prefix));
    await assertFilter(`startswith(hardwareDetail/model,'${prefix}') eq true`, (d) => (d.hardwareDetail.model ?? '').startsWith(prefix));
    await assertFilter(`startswith(displayName,'Conf Room')`, (d) => (d.currentUser?.displayName ?? '').startsWith('Conf Room'));
    await assertFilter(`startswith(hardwareDetail/model,'${prefix.toUpperCase()}')`, () => false, false);
    await assertFilter("startswith(hardwareDetail/model,'_')", () => false, false);
  });

  it("pages a lone startswith in its property's order (then id), each match once, and checks its tokens' positions", async () => {
    const serial = firstWhere((d) => (d.hardwareDetail.serialNumber ?? '').length > 3, 'a serial number').hardwareDetail.serialNumber ?? '';
    const prefix = serial.slice(0, 1);
    const filter = `startswith(hardwareDetail/serialNumber,'${prefix}')`;
    const matching = allA.filter((d) => (d.hardwareDetail.serialNumber ?? '').startsWith(prefix));
    assert.ok(new Set(matching.map((d) => d.hardwareDetail.serialNumber)).size > 6, `the prefix ${prefix} covers several serial numbers`);
    const bytes = (value: string | null) => Buffer.from(value ?? '', 'utf8');
    const expected = [...matching].sort((a, b) => Buffer.compare(bytes(a.hardwareDetail.serialNumber), bytes(b.hardwareDetail.serialNumber)) || (a.id < b.id ? -1 : 1));
    const { items, pages } = await listAll(`/beta/teamwork/devices?$filter=${q(filter)}&$top=3`);
    assert.deepEqual(items.map((d) => d.id), expected.map((d) => d.id));
    assert.equal(pages, Math.ceil(expected.length / 3), 'every page but the last is full');

    const { body } = await ok<Collection<DeviceBody>>(`/beta/teamwork/devices?$filter=${q(filter)}&$top=3`);
    const token = new URL(body['@odata.nextLink'] ?? assert.fail('no nextLink')).searchParams.get('$skiptoken') ?? '';
    const { f } = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { f: string };
    const withPosition = (p: unknown) => `/beta/teamwork/devices?$filter=${q(filter)}&$top=50&$skiptoken=${Buffer.from(JSON.stringify({ p, f })).toString('base64url')}`;
    for (const p of [expected[0].id, { keys: [], id: expected[0].id }, { keys: [5], id: 'x' }, { keys: ['a', 'b'], id: 'x' }, { keys: ['a'] }]) {
      await assertBadRequest(withPosition(p), /skiptoken/i);
    }
    // A position before the prefix's range (an altered token) still lists only matches.
    const fromBefore = await ok<Collection<DeviceBody>>(withPosition({ keys: [''], id: '' }));
    assert.deepEqual(fromBefore.body.value.map((d) => d.id), expected.slice(0, 50).map((d) => d.id));
    const fromNull = await ok<Collection<DeviceBody>>(withPosition({ keys: [null], id: '' }));
    assert.deepEqual(fromNull.body.value, []);
  });

  it('and/or with parentheses', async () => {
    await assertFilter(
      "(deviceType eq 'teamsRoom' or deviceType eq 'ipPhone') and healthStatus eq 'healthy'",
      (d) => (d.deviceType === 'teamsRoom' || d.deviceType === 'ipPhone') && d.healthStatus === 'healthy',
    );
    await assertFilter(
      "deviceType eq 'teamsPanel' or (deviceType eq 'ipPhone' and activityState eq 'busy')",
      (d) => d.deviceType === 'teamsPanel' || (d.deviceType === 'ipPhone' && d.activityState === 'busy'),
    );
    await assertFilter(
      "not (deviceType eq 'ipPhone' or deviceType eq 'teamsRoom') and healthStatus ne 'offline'",
      (d) => !(d.deviceType === 'ipPhone' || d.deviceType === 'teamsRoom') && d.healthStatus !== 'offline',
    );
  });

  it('follows OData precedence without parentheses: not over and over or', async () => {
    const [panel, phone, busy, healthy] = [
      (d: DeviceBody) => d.deviceType === 'teamsPanel', (d: DeviceBody) => d.deviceType === 'ipPhone',
      (d: DeviceBody) => d.activityState === 'busy', (d: DeviceBody) => d.healthStatus === 'healthy',
    ];
    await assertFilter("deviceType eq 'teamsPanel' or deviceType eq 'ipPhone' and activityState eq 'busy'", (d) => panel(d) || (phone(d) && busy(d)));
    await assertFilter("deviceType eq 'ipPhone' and activityState eq 'busy' or deviceType eq 'teamsPanel'", (d) => (phone(d) && busy(d)) || panel(d));
    await assertFilter(
      "deviceType eq 'teamsPanel' and healthStatus eq 'healthy' or deviceType eq 'ipPhone' and not (activityState eq 'busy') or notes eq 'a or b'",
      (d) => (panel(d) && healthy(d)) || (phone(d) && !busy(d)) || d.notes === 'a or b',
    );
    await assertFilter(
      "(deviceType eq 'teamsPanel' or deviceType eq 'ipPhone' and activityState eq 'busy') and healthStatus eq 'healthy'",
      (d) => (panel(d) || (phone(d) && busy(d))) && healthy(d),
    );
    await assertFilter("not startswith(notes,'zz') and deviceType eq 'ipPhone' or deviceType eq 'teamsPanel'", (d) => (!(d.notes ?? '').startsWith('zz') && phone(d)) || panel(d));
  });

  it('eq null, ne null, and displayName (the current user’s display name)', async () => {
    await assertFilter('companyAssetTag eq null', (d) => d.companyAssetTag === null);
    await assertFilter('companyAssetTag ne null', (d) => d.companyAssetTag !== null);
    const named = firstWhere((d) => d.currentUser?.displayName != null, 'a display name');
    const name = named.currentUser?.displayName ?? '';
    await assertFilter(`displayName eq '${name.replace(/'/g, "''")}'`, (d) => d.currentUser?.displayName === name);
    await assertFilter(`currentUser/displayName eq '${name.replace(/'/g, "''")}'`, (d) => d.currentUser?.displayName === name);
  });

  it('rejects what it does not support with a 400 naming the part', async () => {
    const cases: [string, RegExp][] = [
      ["foo eq 'x'", /'foo'/],
      ["deviceType gt 'teamsRoom'", /\bgt\b/],
      ["contains(notes,'room')", /\bcontains\b/],
      ["endswith(notes,'room')", /\bendswith\b/],
      ["hardwareDetail/macAddresses/any(m:m eq '00:04:F2:00:00:00')", /\bany\b|lambda/i],
      ['companyAssetTag eq 5', /companyAssetTag/],
      ["deviceType eq 'fridge'", /'fridge'/],
      ["deviceType eq 'teamsRoom' and", /\$filter/],
      ["(deviceType eq 'teamsRoom'", /\$filter/],
      ['deviceType', /\$filter/],
      ["startswith(deviceType,'teams')", /deviceType/],
    ];
    for (const [filter, mention] of cases) {
      await assertBadRequest(`/beta/teamwork/devices?$filter=${q(filter)}`, mention);
    }
  });

  it('rejects $search, and options a resource does not take, naming the option', async () => {
    for (const option of ['$search=room', 'search=room', '$format=json']) {
      const name = option.split('=')[0].replace(/^\$?/, '$');
      await assertBadRequest(`/beta/teamwork/devices?${option}`, new RegExp(`\\${name}\\b`));
    }
  });

  it('reads a literal once: percent signs in it are text, not escapes decoded a second time', async () => {
    const tag = firstWhere((d) => /^TAG-\d+$/.test(d.companyAssetTag ?? ''), 'a TAG-nnn asset tag').companyAssetTag ?? '';
    // The client means the text 'TAG%2D…' (sent as TAG%252D…), which is not the tag 'TAG-…'.
    await assertFilter(`companyAssetTag eq '${tag.replace('-', '%2D')}'`, () => false, false);
    await assertFilter(`companyAssetTag eq '${tag}'`, (d) => d.companyAssetTag === tag);
    await assertFilter("notes eq '100%'", () => false, false);
    await assertFilter("startswith(hardwareDetail/model,'%')", () => false, false);
  });

  it('treats SQL-looking literals as text: 200 with no results, and nothing is lost', async () => {
    for (const literal of ["' or 1=1 --", "x'; DROP TABLE devices; --", "' OR ''='", '*', '_']) {
      const escaped = literal.replace(/'/g, "''");
      for (const filter of [`companyAssetTag eq '${escaped}'`, `notes eq '${escaped}'`, `startswith(displayName,'${escaped}')`, `hardwareDetail/uniqueId in ('${escaped}')`]) {
        const { body } = await ok<Collection<DeviceBody>>(`/beta/teamwork/devices?$filter=${q(filter)}`);
        assert.deepEqual(body.value, [], filter);
      }
    }
    const { items } = await listAll('/beta/teamwork/devices?$top=50');
    assert.deepEqual(idsOf(items), idsOf(allA));
    assert.equal((await listAll('/beta/teamwork/devices?$top=50', { token: tokenB })).items.length, devicesB);
    assert.equal(await server.store.countDevices(tenantA), devicesA);
    assert.equal(await server.store.countDevices(tenantB), devicesB);
  });
});

describe('get device', () => {
  it('returns the bare entity with @odata.context …/$entity, equal to its list item', async () => {
    const device = allA[17];
    const { body } = await ok<DeviceBody>(`/beta/teamwork/devices/${device.id}`);
    assertGraphShape('microsoft.graph.teamworkDevice', body);
    assert.equal(body['@odata.context'], `${server.url}/beta/$metadata#teamwork/devices/$entity`);
    assert.equal(body.value, undefined, 'the entity is not wrapped in value');
    const { '@odata.context': _context, ...rest } = body;
    assert.deepEqual(rest, device);
  });

  it('$select returns only the chosen properties', async () => {
    const device = allA[3];
    const { body } = await ok<DeviceBody>(`/beta/teamwork/devices/${device.id}?$select=id,deviceType`);
    assertGraphShape('microsoft.graph.teamworkDevice', body, { partial: true });
    assert.deepEqual(Object.keys(body).sort(), ['@odata.context', '@odata.type', 'deviceType', 'id']);
    assert.equal(body.id, device.id);
    assert.equal(body.deviceType, device.deviceType);
    assert.equal(body['@odata.context'], `${server.url}/beta/$metadata#teamwork/devices(id,deviceType)/$entity`);
    const hw = await ok<DeviceBody>(`/beta/teamwork/devices/${device.id}?select=hardwareDetail`);
    assert.deepEqual(hw.body.hardwareDetail, device.hardwareDetail);
    assert.equal(hw.body.id, undefined);
  });

  it('rejects a bad $select with 400 naming it', async () => {
    const id = allA[0].id;
    await assertBadRequest(`/beta/teamwork/devices/${id}?$select=id,colour`, /colour/);
    await assertBadRequest(`/beta/teamwork/devices/${id}?$select=`, /\$select/);
    await assertBadRequest(`/beta/teamwork/devices/${id}?$select=id,,deviceType`, /\$select/);
    await assertBadRequest(`/beta/teamwork/devices?$select=nope`, /nope/);
    await assertBadRequest(`/beta/teamwork/devices/${id}?$top=5`, /\$top/);
  });

  it('answers an unknown id with 404 itemNotFound', async () => {
    const body = await assertNotFound('/beta/teamwork/devices/00000000-0000-4000-8000-000000000000');
    assert.match(body.error.message, /00000000-0000-4000-8000-000000000000/);
    await assertNotFound('/beta/teamwork/devices/not-a-device');
    await assertNotFound(`/beta/teamwork/devices/${encodeURIComponent("x' or '1'='1")}`);
  });

  it("accepts the key syntax devices('{id}'), with and without /beta", async () => {
    const device = allA[5];
    for (const path of [`/beta/teamwork/devices('${device.id}')`, `/teamwork/devices('${device.id}')`, `/teamwork/devices/${device.id}`]) {
      const { body } = await ok<DeviceBody>(path);
      assert.equal(body.id, device.id, path);
      assertGraphShape('microsoft.graph.teamworkDevice', body);
    }
    const plain = await ok<DeviceBody>(`/teamwork/devices/${device.id}`);
    assert.equal(plain.body['@odata.context'], `${server.url}/$metadata#teamwork/devices/$entity`);
    const keyed = await ok<{ id: string }>(`/beta/teamwork/devices('${device.id}')/health`);
    assert.equal(keyed.body.id, device.id);
  });

  it('matches path segments case-insensitively', async () => {
    const device = allA[6];
    const { body } = await ok<{ id: string; '@odata.type': string }>(`/beta/Teamwork/Devices/${device.id}/Health`);
    assert.equal(body.id, device.id);
    assert.equal(body['@odata.type'], '#microsoft.graph.teamworkDeviceHealth');
    const list = await ok<Collection<DeviceBody>>('/BETA/TEAMWORK/DEVICES?$top=2');
    assert.equal(list.body.value.length, 2);
  });
});

describe('health, activity and configuration', () => {
  const kinds = [
    ['health', 'microsoft.graph.teamworkDeviceHealth'],
    ['activity', 'microsoft.graph.teamworkDeviceActivity'],
    ['configuration', 'microsoft.graph.teamworkDeviceConfiguration'],
  ] as const;

  /** one device of each type, so rooms, phones, panels and SIP devices are all covered */
  const sample = () => [...new Map(allA.map((d) => [d.deviceType, d])).values()];

  it('return valid documents whose id is the device id', async () => {
    assert.ok(sample().length >= 5, 'the seed should produce several device types');
    for (const device of sample()) {
      for (const [kind, type] of kinds) {
        for (const prefix of ['/beta', '']) {
          const { body } = await ok<Record<string, unknown>>(`${prefix}/teamwork/devices/${device.id}/${kind}`);
          assertGraphShape(type, body);
          assert.equal(body.id, device.id);
          assert.equal(body['@odata.type'], `#${type}`);
          assert.equal(body['@odata.context'], `${server.url}${prefix}/$metadata#teamwork/devices('${device.id}')/${kind}/$entity`);
        }
      }
    }
  });

  it('$select works on each document', async () => {
    const device = allA[2];
    const picks = { health: 'connection,softwareUpdateHealth', activity: 'activePeripherals', configuration: 'id,softwareVersions' };
    for (const [kind, type] of kinds) {
      const { body } = await ok<Record<string, unknown>>(`/beta/teamwork/devices/${device.id}/${kind}?$select=${picks[kind]}`);
      assertGraphShape(type, body, { partial: true });
      assert.deepEqual(Object.keys(body).sort(), ['@odata.context', '@odata.type', ...picks[kind].split(',')].sort(), kind);
      assert.equal(body['@odata.context'], `${server.url}/beta/$metadata#teamwork/devices('${device.id}')/${kind}(${picks[kind]})/$entity`);
      await assertBadRequest(`/beta/teamwork/devices/${device.id}/${kind}?$select=deviceType`, /deviceType/);
    }
  });

  it('never returns systemConfiguration.defaultPassword or lockPin', async () => {
    let withSystem = 0;
    for (const device of allA.filter((d) => !roomTypes.has(d.deviceType)).slice(0, 15)) {
      const { body } = await ok<{ systemConfiguration: Record<string, unknown> | null }>(`/beta/teamwork/devices/${device.id}/configuration`);
      if (body.systemConfiguration === null) continue;
      withSystem += 1;
      assert.ok('defaultPassword' in body.systemConfiguration && 'lockPin' in body.systemConfiguration);
      assert.equal(body.systemConfiguration.defaultPassword, null);
      assert.equal(body.systemConfiguration.lockPin, null);
    }
    assert.ok(withSystem > 0, 'no device with a systemConfiguration in the sample');
  });

  it('answer 404 for an unknown device', async () => {
    for (const [kind] of kinds) await assertNotFound(`/beta/teamwork/devices/00000000-0000-4000-8000-000000000000/${kind}`);
  });
});

describe('operations', () => {
  it('lists none for a device without operations: value [] and no nextLink', async () => {
    const device = allA[40];
    const { body } = await ok<Collection<unknown>>(`/beta/teamwork/devices/${device.id}/operations`);
    assertGraphShape('microsoft.graph.teamworkDeviceOperationCollectionResponse', body);
    assert.deepEqual(body.value, []);
    assert.equal('@odata.nextLink' in body, false);
    assert.equal(body['@odata.context'], `${server.url}/beta/$metadata#teamwork/devices('${device.id}')/operations`);
    await assertBadRequest(`/beta/teamwork/devices/${device.id}/operations?$top=0`, /\$top/);
    await assertBadRequest(`/beta/teamwork/devices/${device.id}/operations?$filter=${q("status eq 'queued'")}`, /\$filter/);
    await assertBadRequest(`/beta/teamwork/devices/${device.id}/operations?$skiptoken=nope`, /skiptoken/i);
    await assertNotFound('/beta/teamwork/devices/00000000-0000-4000-8000-000000000000/operations');
    await assertNotFound(`/beta/teamwork/devices/${device.id}/operations/00000000-0000-4000-8000-000000000000`);
  });

  it('serialises an operation as Graph’s teamworkDeviceOperation, in the list and on its own', async () => {
    const device = allA[41];
    const posted = await server.request(`/beta/teamwork/devices/${device.id}/restart`, { method: 'POST' });
    assert.equal(posted.status, 202, `restart: ${await posted.text()}`);
    const location = posted.headers.get('location') ?? assert.fail('no Location');

    const list = await ok<Collection<Record<string, unknown>>>(`/beta/teamwork/devices/${device.id}/operations`);
    assertGraphShape('microsoft.graph.teamworkDeviceOperationCollectionResponse', list.body);
    assert.equal(list.body.value.length, 1);
    assert.equal(list.body.value[0].operationType, 'deviceRestart');

    const single = await ok<Record<string, unknown>>(location);
    assertGraphShape('microsoft.graph.teamworkDeviceOperation', single.body);
    assert.equal(single.body.id, list.body.value[0].id);
    assert.equal(single.body['@odata.context'], `${server.url}/$metadata#teamwork/devices('${device.id}')/operations/$entity`);

    const selected = await ok<Record<string, unknown>>(`/beta${location}?$select=id,status`);
    assertGraphShape('microsoft.graph.teamworkDeviceOperation', selected.body, { partial: true });
    assert.deepEqual(Object.keys(selected.body).sort(), ['@odata.context', '@odata.type', 'id', 'status']);
  });
});

describe('tenant isolation', () => {
  it("answers another tenant's device with 404, never 403", async () => {
    const foreign = allB[0].id;
    for (const suffix of ['', '/health', '/activity', '/configuration', '/operations']) {
      await assertNotFound(`/beta/teamwork/devices/${foreign}${suffix}`);
      const own = await server.request(`/beta/teamwork/devices/${foreign}${suffix}`, { token: tokenB });
      assert.equal(own.status, 200, `tenant B cannot read its own device${suffix}`);
    }
    await assertNotFound(`/beta/teamwork/devices('${foreign}')`);
    const { body } = await ok<Collection<DeviceBody>>(`/beta/teamwork/devices?$filter=${q(`hardwareDetail/uniqueId eq '${allB[0].hardwareDetail.uniqueId}'`)}`);
    assert.deepEqual(body.value, [], 'a filter reaches into tenant B');
  });

  it('keeps the tenants apart the other way round too', async () => {
    await assertNotFound(`/beta/teamwork/devices/${allA[0].id}`, { token: tokenB });
    await assertNotFound(`/beta/teamwork/devices/${allA[0].id}/health`, { token: tokenB });
  });
});

describe('request ids and errors', () => {
  it('puts a request-id on every reply and echoes client-request-id, also in error bodies', async () => {
    const clientId = 'trace-0f9e8d7c-devices-api';
    const id = allA[0].id;
    const paths: [string, string, number][] = [
      ['GET', '/beta/teamwork/devices?$top=1', 200],
      ['GET', `/beta/teamwork/devices/${id}`, 200],
      ['GET', `/beta/teamwork/devices/${id}/health`, 200],
      ['GET', '/beta/teamwork/devices?$top=0', 400],
      ['GET', '/beta/teamwork/devices/nope', 404],
      ['GET', '/beta/teamwork/nothing-here', 404],
      ['PUT', `/beta/teamwork/devices/${id}`, 405],
    ];
    const seen = new Set<string>();
    for (const [method, path, status] of paths) {
      for (const sendId of [false, true]) {
        const res = await server.request(path, { method, headers: sendId ? { 'client-request-id': clientId } : {} });
        assert.equal(res.status, status, `${method} ${path}`);
        const requestId = res.headers.get('request-id') ?? '';
        assert.match(requestId, guid, `${method} ${path}: request-id`);
        assert.ok(!seen.has(requestId), 'request-id repeated');
        seen.add(requestId);
        assert.equal(res.headers.get('client-request-id'), sendId ? clientId : null, `${method} ${path}: client-request-id header`);
        const body = (await res.json()) as GraphErrorBody;
        if (status >= 400) {
          assertGraphShape('microsoft.graph.ODataErrors.ODataError', body);
          assert.equal(body.error.innerError['request-id'], requestId);
          if (sendId) assert.equal(body.error.innerError['client-request-id'], clientId);
          assert.ok(!Number.isNaN(Date.parse(body.error.innerError.date)), 'innerError.date');
        }
      }
    }
  });

  it('answers unknown routes with 404 and the Graph error body', async () => {
    const id = allA[0].id;
    for (const path of ['/beta/teamwork/nothing', `/beta/teamwork/devices/${id}/nothing`, '/nothing', '/v1.0/teamwork/devices', `/beta/teamwork/devices/${id}/health/extra`]) {
      const body = await assertNotFound(path);
      assert.ok(body.error.message.length > 0);
    }
  });

  it('answers wrong methods with 405, Allow and the Graph error body', async () => {
    const id = allA[0].id;
    const cases: [string, string][] = [
      ['PUT', `/beta/teamwork/devices/${id}`],
      ['PATCH', `/teamwork/devices/${id}`],
      ['PUT', `/beta/teamwork/devices/${id}/health`],
      ['POST', '/beta/teamwork/devices'],
      ['DELETE', `/beta/teamwork/devices/${id}/configuration`],
      ['POST', `/beta/teamwork/devices/${id}/activity`],
      ['GET', `/beta/teamwork/devices/${id}/restart`],
    ];
    for (const [method, path] of cases) {
      const { res, body } = await getJson<GraphErrorBody>(path, { method });
      assert.equal(res.status, 405, `${method} ${path}`);
      assertGraphShape('microsoft.graph.ODataErrors.ODataError', body);
      assert.equal(body.error.code, 'methodNotAllowed');
      const allow = (res.headers.get('allow') ?? '').split(',').map((m) => m.trim());
      assert.ok(allow.length > 0 && !allow.includes(method), `${method} ${path}: Allow '${res.headers.get('allow')}'`);
      assert.ok(allow.includes(path.endsWith('/restart') ? 'POST' : 'GET'), `${method} ${path}: Allow '${res.headers.get('allow')}'`);
    }
  });
});
