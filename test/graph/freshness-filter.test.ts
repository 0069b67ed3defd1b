/**
 * `$filter` on each software type's freshness (health/softwareUpdateHealth/<type>SoftwareUpdateStatus/softwareFreshness),
 * over real HTTP on the test store: the devices a filter returns, and /$count, are exactly those
 * whose health document (GET …/health) says so, over a fleet with a varied catalog: entries for
 * every device, for one device type and for one model (matched in any case), a device ahead of
 * the catalog, devices without a software, entries added after the devices enrolled (one device
 * reporting again afterwards), and seeded demo devices (whose documents are regenerated). The
 * scan window is small, so a filter no index serves (a `ne`, a `not`) pages in short pages.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { softwareFreshnesses, softwareTypes, type SoftwareType } from '../../src/domain/enums.js';
import type { CatalogEntry } from '../../src/domain/software-catalog.js';
import { seedDevices } from '../../src/seed/seed-devices.js';
import { assertGraphShape } from '../helpers/graph-schema.js';
import { graphOperation, requestOperation } from '../helpers/graph-operations.js';
import { enrollmentToken, TestAgent, uniqueHardware, type EnrollBody } from '../helpers/test-agent.js';
import { startTestServer, tenantA, tenantB, type TestServer } from '../helpers/test-server.js';

interface Collection {
  '@odata.nextLink'?: string;
  value: { id: string }[];
}

type Health = { softwareUpdateHealth: Record<string, { softwareFreshness: string } | null> };

let server: TestServer;
/** every device of tenant A, with its health document as GET …/health gives it */
let fleet: { id: string; health: Health }[];
/** the enrolled devices' ids, by what each shows */
const agents = new Map<string, TestAgent>();
let enrolled: Record<'first' | 'room' | 'specialModel' | 'ahead' | 'withoutTeams' | 'reporter', string>;

const q = encodeURIComponent;
const path = (type: SoftwareType) => `health/softwareUpdateHealth/${type}SoftwareUpdateStatus/softwareFreshness`;

function entry(softwareType: SoftwareType, version: string, deviceType: CatalogEntry['deviceType'] = null, model: string | null = null): CatalogEntry {
  return { tenantId: tenantA, softwareType, version, deviceType, model, createdDateTime: new Date().toISOString(), artifact: null };
}

async function ok<T>(url: string, token?: string): Promise<T> {
  const res = await server.request(url, { token });
  const text = await res.text();
  assert.equal(res.status, 200, `GET ${url}: ${text.slice(0, 300)}`);
  return (res.headers.get('content-type') ?? '').startsWith('application/json') ? JSON.parse(text) as T : text as T;
}

/** The ids a filter lists, every page followed, and how many pages that took. */
async function listed(filter: string): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let pages = 0;
  for (let next: string | undefined = `/beta/teamwork/devices?$top=5&$filter=${q(filter)}`; next; pages++) {
    assert.ok(pages < 200, 'the nextLinks do not end');
    const page: Collection = await ok<Collection>(next);
    ids.push(...page.value.map((d) => d.id));
    next = page['@odata.nextLink'];
  }
  return { ids: ids.sort(), pages };
}

function freshness(device: { health: Health }, type: SoftwareType): string | null {
  return device.health.softwareUpdateHealth?.[`${type}SoftwareUpdateStatus`]?.softwareFreshness ?? null;
}

/** Checks a filter against the documents: its listing and its /$count. */
async function assertMatches(filter: string, matches: (device: { id: string; health: Health }) => boolean): Promise<number> {
  const expected = fleet.filter(matches).map((d) => d.id).sort();
  assert.deepEqual((await listed(filter)).ids, expected, filter);
  assert.equal(await ok<string>(`/beta/teamwork/devices/$count?$filter=${q(filter)}`), String(expected.length), `$count ${filter}`);
  return expected.length;
}

async function enroll(token: string, body: Omit<EnrollBody, 'enrollmentToken'>): Promise<TestAgent> {
  const agent = new TestAgent(server.url);
  await agent.enrollOk({ enrollmentToken: token, ...body });
  return agent;
}

before(async () => {
  // A scan window of 8 devices: a ne or a not pages through it; an eq or an in reads the freshness index.
  server = await startTestServer({ testCatalog: false, config: { scanRowsPerPage: 8 } });
  await server.store.addCatalogEntries([
    entry('teamsClient', '1.0.96.22'),
    entry('teamsClient', '1.0.96.30', 'teamsRoom'),
    entry('teamsClient', '2.0.0.7', null, 'Special-Model'),
    entry('firmware', '5.1'),
    entry('adminAgent', '1.0.0', 'ipPhone'),
  ]);
  const token = await enrollmentToken(server);
  const id = async (body: Omit<EnrollBody, 'enrollmentToken'>) => {
    const agent = await enroll(token, body);
    agents.set(agent.deviceId!, agent);
    return agent.deviceId!;
  };
  const phone = (installed: Record<string, string>, model = 'a30') => ({ deviceType: 'ipPhone', hardwareDetail: uniqueHardware({ model }), installed });
  enrolled = {
    first: await id(phone({ teamsClient: '1.0.96.22', firmware: '5.0.1', operatingSystem: '3.1', adminAgent: '1.0.0' })),
    room: await id({ deviceType: 'teamsRoom', hardwareDetail: uniqueHardware({ model: 'mtr' }), installed: { teamsClient: '1.0.96.22', firmware: '5.1' } }),
    specialModel: await id(phone({ teamsClient: '1.0.96.30' }, 'SPECIAL-MODEL')),
    ahead: await id(phone({ teamsClient: '9.9.9', adminAgent: '0.9' })),
    withoutTeams: await id(phone({ firmware: '5.1' })),
    reporter: '',
  };
  const reporter = await enroll(token, phone({ teamsClient: '1.0.96.22', operatingSystem: '3.0.1' }));
  enrolled.reporter = reporter.deviceId!;
  // Entries added after the devices: only a device that reports again has a document that knows them.
  await server.store.addCatalogEntries([entry('operatingSystem', '3.1'), entry('firmware', '5.2'), entry('teamsClient', '1.0.96.23', 'ipPhone')]);
  assert.equal((await reporter.inventory({ installed: { teamsClient: '1.0.96.22', operatingSystem: '3.0.1' } })).status, 200);
  await seedDevices(server.store, { tenantId: tenantA, count: 20, seed: 3 });
  await seedDevices(server.store, { tenantId: tenantB, count: 5, seed: 4 });

  fleet = [];
  for (let next: string | undefined = '/beta/teamwork/devices?$top=50'; next;) {
    const page: Collection = await ok<Collection>(next);
    for (const { id } of page.value) fleet.push({ id, health: await ok<Health>(`/beta/teamwork/devices/${id}/health`) });
    next = page['@odata.nextLink'];
  }
  assert.equal(fleet.length, 26);
});

after(async () => {
  await server?.stop();
});

describe('$filter on software freshness', () => {
  it('eq on each software type and value lists exactly the devices whose health document says it', async () => {
    const seen = new Set<string>();
    for (const type of softwareTypes) {
      for (const value of softwareFreshnesses) {
        if (await assertMatches(`${path(type)} eq '${value}'`, (d) => freshness(d, type) === value) > 0) seen.add(`${type} ${value}`);
      }
    }
    // The fleet covers each value for the enrolled devices' types: the matrix means something.
    for (const covered of ['teamsClient latest', 'teamsClient updateAvailable', 'teamsClient unknown', 'firmware latest', 'firmware updateAvailable', 'operatingSystem unknown', 'operatingSystem updateAvailable']) {
      assert.ok(seen.has(covered), covered);
    }
  });

  it('follows the catalog rules: device type and model entries (any case), a device ahead of the catalog, entries added later', async () => {
    const listedFor = async (type: SoftwareType, value: string) => (await listed(`${path(type)} eq '${value}'`)).ids;
    const status = async (id: string, type: SoftwareType) =>
      (await ok<{ softwareUpdateHealth: Record<string, Record<string, string> | null> }>(`/beta/teamwork/devices/${id}/health`)).softwareUpdateHealth[`${type}SoftwareUpdateStatus`];
    assert.equal((await status(enrolled.specialModel, 'teamsClient'))?.availableVersion, '2.0.0.7', 'the model entry, matched in any case');
    assert.ok((await listedFor('teamsClient', 'updateAvailable')).includes(enrolled.specialModel));
    assert.equal((await status(enrolled.room, 'teamsClient'))?.availableVersion, '1.0.96.30', "the device type's entry");
    assert.ok((await listedFor('teamsClient', 'updateAvailable')).includes(enrolled.room));
    assert.ok((await listedFor('teamsClient', 'latest')).includes(enrolled.ahead), 'a device ahead of the catalog is latest');
    assert.ok((await listedFor('adminAgent', 'updateAvailable')).includes(enrolled.ahead));
    assert.ok((await listedFor('teamsClient', 'unknown')).includes(enrolled.withoutTeams), 'offered but not installed: unknown');
    assert.ok((await listed(`${path('companyPortal')} eq null`)).ids.includes(enrolled.withoutTeams), 'neither installed nor offered: no status');
    // The entries added later: the device that reported again knows them, the others' documents do not yet.
    assert.equal((await status(enrolled.reporter, 'operatingSystem'))?.availableVersion, '3.1');
    assert.ok((await listedFor('operatingSystem', 'updateAvailable')).includes(enrolled.reporter));
    assert.equal((await status(enrolled.first, 'operatingSystem'))?.softwareFreshness, 'unknown');
    assert.ok((await listedFor('operatingSystem', 'unknown')).includes(enrolled.first));
  });

  it('ne, in, eq null and not treat a device without the software as OData treats null', async () => {
    for (const type of ['teamsClient', 'adminAgent', 'companyPortal'] as const) {
      await assertMatches(`${path(type)} ne 'latest'`, (d) => freshness(d, type) !== 'latest');
      await assertMatches(`${path(type)} in ('latest', 'unknown')`, (d) => ['latest', 'unknown'].includes(freshness(d, type)!));
      await assertMatches(`${path(type)} eq null`, (d) => freshness(d, type) === null);
      await assertMatches(`not (${path(type)} eq 'updateAvailable')`, (d) => freshness(d, type) !== 'updateAvailable');
    }
  });

  it('combines with the other properties through and, or and not, in any case', async () => {
    const devices = new Map<string, string>();
    for (let next: string | undefined = '/beta/teamwork/devices?$top=50'; next;) {
      const page: { value: { id: string; deviceType: string }[]; '@odata.nextLink'?: string } = await ok<{ value: { id: string; deviceType: string }[]; '@odata.nextLink'?: string }>(next);
      for (const d of page.value) devices.set(d.id, d.deviceType);
      next = page['@odata.nextLink'];
    }
    const typeOf = (d: { id: string }) => devices.get(d.id);
    await assertMatches(`deviceType eq 'ipPhone' and ${path('teamsClient')} eq 'updateAvailable'`, (d) => typeOf(d) === 'ipPhone' && freshness(d, 'teamsClient') === 'updateAvailable');
    await assertMatches(`${path('firmware')} eq 'updateAvailable' or deviceType eq 'teamsRoom' and ${path('teamsClient')} ne 'latest'`,
      (d) => freshness(d, 'firmware') === 'updateAvailable' || (typeOf(d) === 'teamsRoom' && freshness(d, 'teamsClient') !== 'latest'));
    await assertMatches(`not (${path('teamsClient')} eq 'latest' or ${path('firmware')} eq 'latest') and deviceType in ('ipPhone', 'teamsRoom')`,
      (d) => !(freshness(d, 'teamsClient') === 'latest' || freshness(d, 'firmware') === 'latest') && ['ipPhone', 'teamsRoom'].includes(typeOf(d)!));
    await assertMatches(`Health/SoftwareUpdateHealth/TeamsClientSoftwareUpdateStatus/SoftwareFreshness eq 'UpdateAvailable'`, (d) => freshness(d, 'teamsClient') === 'updateAvailable');
  });

  it('reads eq and in from the freshness index (full pages), ne through the scan window (short pages), every match once', async () => {
    for (const filter of [`${path('teamsClient')} eq 'latest'`, `${path('firmware')} in ('latest', 'updateAvailable')`]) {
      const { ids, pages } = await listed(filter);
      assert.ok(ids.length > 10, `${filter}: ${ids.length}`);
      assert.equal(pages, Math.ceil(ids.length / 5), `${filter}: full pages of 5 (${ids.length} devices in ${pages} pages)`);
    }
    const { ids, pages } = await listed(`${path('teamsClient')} ne 'updateAvailable'`);
    assert.equal(new Set(ids).size, ids.length);
    assert.ok(pages >= Math.ceil(fleet.length / 8), `${pages} pages for ${fleet.length} devices in windows of 8`);
  });

  it('counts and lists only the caller\'s tenant', async () => {
    const tokenB = await server.token({ tenantId: tenantB });
    const b = Number(await ok<string>(`/beta/teamwork/devices/$count?$filter=${q(`${path('teamsClient')} ne 'latest' or ${path('teamsClient')} eq 'latest'`)}`, tokenB));
    assert.equal(b, 5);
    const a = (await listed(`${path('teamsClient')} ne 'latest' or ${path('teamsClient')} eq 'latest'`)).ids;
    assert.deepEqual(a, fleet.map((d) => d.id).sort(), "tenant A's devices, none of B's");
  });

  it('refuses what it does not support with a Graph 400 naming it', async () => {
    const refused = async (filter: string, mention: RegExp, suffix = '') => {
      for (const url of [`/beta/teamwork/devices?$filter=${q(filter)}${suffix}`, `/beta/teamwork/devices/$count?$filter=${q(filter)}`]) {
        const res = await server.request(url);
        const body = await res.json() as { error: { code: string; message: string } };
        assert.equal(res.status, 400, `${url}: ${res.status}`);
        assertGraphShape('microsoft.graph.ODataErrors.ODataError', body);
        assert.match(body.error.message, mention, url);
      }
    };
    await refused(`${path('teamsClient')} eq 'stale'`, /'stale' is not a member of softwareFreshness; valid members are latest, updateAvailable, unknown/);
    await refused(`${path('firmware')} in ('latest', 'old')`, /'old'/);
    await refused(`${path('firmware')} eq 'unknownFutureValue'`, /unknownFutureValue/);
    await refused(`startswith(${path('firmware')}, 'la')`, /startswith on the enum property/);
    await refused(`health/softwareUpdateHealth/fooSoftwareUpdateStatus/softwareFreshness eq 'latest'`, /fooSoftwareUpdateStatus/);
    await refused(`${path('firmware')} eq 1`, /quoted string/);
    const res = await server.request(`/beta/teamwork/devices?$orderby=${q(path('firmware'))}`);
    assert.equal(res.status, 400, 'no $orderby on freshness');
  });

  it('follows a successful update: the installed version changes the device\'s freshness and its column', async () => {
    const column = async () => (await server.query<{ f: string | null }>('SELECT freshness_teams_client AS f FROM devices WHERE id = ?', [enrolled.room]))[0].f;
    assert.equal(await column(), 'updateAvailable');
    const operationId = await requestOperation(server, enrolled.room, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: '1.0.96.30' });
    const agent = agents.get(enrolled.room)!;
    const work = await agent.nextWork(0);
    assert.equal(work?.id, operationId);
    await agent.ackOk(operationId);
    await agent.resultOk(operationId, { status: 'successful', installed: { teamsClient: '1.0.96.30' } });
    assert.equal((await graphOperation(server, enrolled.room, operationId)).status, 'successful');
    assert.equal(await column(), 'latest');
    assert.ok((await listed(`${path('teamsClient')} eq 'latest'`)).ids.includes(enrolled.room));
    assert.ok(!(await listed(`${path('teamsClient')} eq 'updateAvailable'`)).ids.includes(enrolled.room));
  });
});
