import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DeviceType, SoftwareType } from '../../src/domain/enums.js';
import { postAction } from '../helpers/graph-operations.js';
import { expectGraphError, operationRows } from '../helpers/http-assertions.js';
import { startTestServer, tenantA, tenantB, type TestServer } from '../helpers/test-server.js';

/**
 * updateSoftware with a softwareVersion the catalog does not offer the device: Graph answers
 * 404 ("unknown or invalid version" to the tools that call it), and nothing is queued: no
 * operation, no audit event. Offered means: an entry of that software type and exact version
 * for any device, for the device's type, or for its type and model (models compare without case).
 */

interface ListedDevice {
  id: string;
  deviceType: DeviceType;
  hardwareDetail: { model: string | null };
}

let server: TestServer;
/** the device most cases ask about */
let device: ListedDevice;
/** same type as `device`, another model */
let sameTypeOtherModel: ListedDevice;
/** another device type */
let otherType: ListedDevice;
/** a second device of `device`'s type and model, for the cases that must not meet a pending update */
let twin: ListedDevice;

async function offer(softwareType: SoftwareType, version: string, deviceType: DeviceType | null = null, model: string | null = null, tenantId = tenantA) {
  const added = await server.store.addCatalogEntry({ tenantId, softwareType, version, deviceType, model, createdDateTime: new Date().toISOString() });
  assert.equal(added, 'added');
}

before(async () => {
  server = await startTestServer({ devicesA: 60, devicesB: 2, testCatalog: false });
  const response = await server.request('/beta/teamwork/devices?$top=50&$select=id,deviceType,hardwareDetail');
  assert.equal(response.status, 200);
  const devices = ((await response.json()) as { value: ListedDevice[] }).value.filter((d) => d.hardwareDetail.model);
  const byKind = new Map<string, ListedDevice[]>();
  for (const d of devices) {
    const key = `${d.deviceType}/${d.hardwareDetail.model}`;
    byKind.set(key, [...(byKind.get(key) ?? []), d]);
  }
  const pair = [...byKind.values()].find((group) => group.length >= 2);
  assert.ok(pair, 'two seeded devices of one type and model');
  [device, twin] = pair;
  const found = devices.find((d) => d.deviceType === device.deviceType && d.hardwareDetail.model !== device.hardwareDetail.model);
  assert.ok(found, `a second ${device.deviceType} model among the seeded devices`);
  sameTypeOtherModel = found;
  const other = devices.find((d) => d.deviceType !== device.deviceType);
  assert.ok(other, 'a second device type among the seeded devices');
  otherType = other;

  await offer('teamsClient', '8.0.0');
  // The model in another case than the device reports it: models compare without case.
  await offer('teamsClient', '8.1.0', device.deviceType, device.hardwareDetail.model!.toUpperCase());
  await offer('teamsClient', '8.2.0', device.deviceType, sameTypeOtherModel.hardwareDetail.model);
  await offer('teamsClient', '8.3.0', otherType.deviceType);
  await offer('firmware', '8.4.0');
  await offer('teamsClient', '8.5.0', null, null, tenantB);
  await offer('adminAgent', '8.0.0');
  await offer('adminAgent', '8.6.0', device.deviceType, device.hardwareDetail.model);
});

after(async () => {
  await server?.stop();
});

/** updateSoftware as a Graph client sends it. */
const update = (deviceId: string, softwareType: string, softwareVersion?: string) =>
  postAction(server, deviceId, 'updateSoftware', softwareVersion === undefined ? { softwareType } : { softwareType, softwareVersion });

/** The device's operations as Graph lists them. */
async function listedOperations(deviceId: string): Promise<unknown[]> {
  const response = await server.request(`/beta/teamwork/devices/${deviceId}/operations`);
  assert.equal(response.status, 200);
  return ((await response.json()) as { value: unknown[] }).value;
}

/** The tenant's operationCreated audit events about one device, every page of the audit log. */
async function operationCreatedEvents(deviceId: string): Promise<unknown[]> {
  const events: { activity: string; additionalDetails: { deviceId?: string } | null }[] = [];
  let url: string | undefined = '/beta/teamwork/auditEvents';
  while (url) {
    const response = await server.request(url);
    assert.equal(response.status, 200);
    const page = (await response.json()) as { value: typeof events; '@odata.nextLink'?: string };
    events.push(...page.value);
    url = page['@odata.nextLink'];
  }
  return events.filter((e) => e.activity === 'operationCreated' && e.additionalDetails?.deviceId === deviceId);
}

async function expectNotOffered(deviceId: string, softwareType: string, version: string) {
  const error = await expectGraphError(await update(deviceId, softwareType, version), 404, 'itemNotFound');
  assert.ok(error.message.includes(`'${version}'`), `the message names the version: ${error.message}`);
  assert.ok(error.message.includes(softwareType), `the message names the software type: ${error.message}`);
}

async function expectAccepted(response: Response): Promise<string> {
  const text = await response.text();
  assert.equal(response.status, 202, `expected 202, got ${response.status}: ${text}`);
  const location = response.headers.get('location');
  assert.ok(location);
  return location.split('/').pop()!;
}

describe('a version the catalog does not offer the device is a 404, and nothing is queued', () => {
  test('a version the catalog does not have at all', async () => {
    await expectNotOffered(device.id, 'teamsClient', '7.7.7');
    assert.deepEqual(await listedOperations(device.id), []);
    assert.deepEqual(await operationCreatedEvents(device.id), []);
    assert.equal((await operationRows(server, 'tenant_id = ? AND device_id = ?', tenantA, device.id)).length, 0);
  });

  test('a version offered only for another model, another device type, another software type or another tenant', async () => {
    await expectNotOffered(device.id, 'teamsClient', '8.2.0');
    await expectNotOffered(device.id, 'teamsClient', '8.3.0');
    await expectNotOffered(device.id, 'teamsClient', '8.4.0');
    await expectNotOffered(device.id, 'teamsClient', '8.5.0');
    // The version is compared exactly, as the catalog holds it.
    await expectNotOffered(device.id, 'teamsClient', '8.1.0.0');
    assert.deepEqual(await listedOperations(device.id), []);
    assert.deepEqual(await operationCreatedEvents(device.id), []);
    assert.equal((await operationRows(server, 'tenant_id = ? AND device_id = ?', tenantA, device.id)).length, 0);
  });

  test('an unknown device is still a 404 about the device, whatever the version', async () => {
    const error = await expectGraphError(await update('00000000-0000-4000-8000-000000000000', 'teamsClient', '7.7.7'), 404, 'itemNotFound');
    assert.match(error.message, /device/);
    assert.doesNotMatch(error.message, /7\.7\.7/);
  });
});

describe('an offered version is accepted', () => {
  test('offered for the device\'s type and model (in another case), for its type, for any device', async () => {
    const forModel = await expectAccepted(await update(twin.id, 'teamsClient', '8.1.0'));
    const forOtherModel = await expectAccepted(await update(sameTypeOtherModel.id, 'teamsClient', '8.2.0'));
    const forType = await expectAccepted(await update(otherType.id, 'teamsClient', '8.3.0'));
    const forAny = await expectAccepted(await update(otherType.id, 'firmware', '8.4.0'));
    for (const [id, version] of [[forModel, '8.1.0'], [forOtherModel, '8.2.0'], [forType, '8.3.0'], [forAny, '8.4.0']]) {
      const [row] = await operationRows(server, 'id = ?', id);
      assert.equal(row.software_version, version);
      assert.equal(row.status, 'queued');
    }
    assert.equal((await operationCreatedEvents(twin.id)).length, 1);
  });

  test('a version offered to every device is offered to this one; the 404s before left no trace', async () => {
    const operationId = await expectAccepted(await update(device.id, 'teamsClient', '8.0.0'));
    const operations = (await listedOperations(device.id)) as { id: string }[];
    assert.deepEqual(operations.map((o) => o.id), [operationId]);
    assert.equal((await operationCreatedEvents(device.id)).length, 1);
  });

  test('an omitted version is still the newest offered to the device; none offered is still a 400', async () => {
    const newest = await expectAccepted(await update(device.id, 'adminAgent'));
    assert.equal((await operationRows(server, 'id = ?', newest))[0].software_version, '8.6.0');
    const anyDevice = await expectAccepted(await update(otherType.id, 'adminAgent'));
    assert.equal((await operationRows(server, 'id = ?', anyDevice))[0].software_version, '8.0.0');
    await expectGraphError(await update(device.id, 'companyPortal'), 400, 'invalidRequest');
  });
});
