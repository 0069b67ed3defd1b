import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DeviceType, SoftwareType } from '../../src/domain/enums.js';
import { deviceOperationRows, graphDevice, graphOperation, postAction, requestOperation, softwareUpdateHealth } from '../helpers/graph-operations.js';
import { expectGraphError } from '../helpers/http-assertions.js';
import { enrollAgent, uniqueHardware, type TestAgent } from '../helpers/test-agent.js';
import { startTestServer, tenantA, tenantB, type TestServer } from '../helpers/test-server.js';

/**
 * The software catalog and what it drives: the version updateSoftware installs when none is
 * named, and health.softwareUpdateHealth / healthStatus computed from reports and the catalog.
 *
 * The catalog of tenant A in this file (teamsClient):
 *   1.0.9 and 1.0.10 for every device; 1.0.99 only for teamsRoom; 1.0.77 only for model "Other-Model".
 * Other software types have no entries, except companyPortal which exists only in tenant B.
 */

let server: TestServer;

async function addEntry(softwareType: SoftwareType, version: string, deviceType: DeviceType | null = null, model: string | null = null, tenantId = tenantA) {
  const added = await server.store.addCatalogEntry({ tenantId, softwareType, version, deviceType, model, createdDateTime: new Date().toISOString() });
  assert.equal(added, 'added');
}

before(async () => {
  // Only this file's catalog: the test catalog's versions would be the newest.
  server = await startTestServer({ testCatalog: false });
  // Added in an order where neither insertion order nor text order gives the right answer.
  await addEntry('teamsClient', '1.0.10');
  await addEntry('teamsClient', '1.0.9');
  await addEntry('teamsClient', '1.0.99', 'teamsRoom');
  await addEntry('teamsClient', '1.0.77', null, 'Other-Model');
  await addEntry('companyPortal', '5.0.1', null, null, tenantB);
});

after(async () => {
  await server?.stop();
});

const updateHealth = (deviceId: string) => softwareUpdateHealth(server, deviceId);

async function healthStatus(deviceId: string): Promise<string> {
  return (await graphDevice<{ healthStatus: string }>(server, deviceId)).healthStatus;
}

/** Runs one updateSoftware to completion as a well-behaved device; returns the version it installed. */
async function runUpdate(agent: TestAgent, softwareType: SoftwareType, body: Record<string, unknown> = { softwareType }): Promise<string> {
  const operationId = await requestOperation(server, agent.deviceId!, 'updateSoftware', body);
  const work = await agent.nextWork(0);
  assert.equal(work?.id, operationId);
  assert.ok(work.softwareVersion, 'the work item names the version to install');
  await agent.ackOk(operationId);
  await agent.resultOk(operationId, { status: 'successful', installed: { [softwareType]: work.softwareVersion } });
  assert.equal((await graphOperation(server, agent.deviceId!, operationId)).status, 'successful');
  return work.softwareVersion;
}

describe('updateSoftware without softwareVersion', () => {
  test('installs the newest applicable catalog version, compared numerically (1.0.10 > 1.0.9)', async () => {
    const agent = await enrollAgent(server, { deviceType: 'collaborationBar', hardwareDetail: uniqueHardware({ model: 'a30' }) });
    const operationId = await requestOperation(server, agent.deviceId!, 'updateSoftware', { softwareType: 'teamsClient' });
    const work = await agent.nextWork(0);
    assert.equal(work?.id, operationId);
    assert.equal(work?.softwareVersion, '1.0.10', 'not 1.0.9 (text order), not 1.0.99 (teamsRoom only), not 1.0.77 (another model)');
    const [row] = await deviceOperationRows(server, agent.deviceId!);
    assert.equal(row.software_version, '1.0.10');
    // softwareVersion: null counts as omitted.
    await agent.ackOk(operationId);
    const nullVersion = await requestOperation(server, agent.deviceId!, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: null });
    assert.equal((await deviceOperationRows(server, agent.deviceId!)).find((r) => r.id === nullVersion)?.software_version, '1.0.10');
  });

  test('a deviceType-specific entry applies to that type', async () => {
    const agent = await enrollAgent(server, { deviceType: 'teamsRoom', hardwareDetail: uniqueHardware({ manufacturer: 'lenovo', model: 'ThinkSmart Core' }) });
    await requestOperation(server, agent.deviceId!, 'updateSoftware', { softwareType: 'teamsClient' });
    assert.equal((await agent.nextWork(0))?.softwareVersion, '1.0.99');
  });

  test('a model-specific entry applies to that model, whatever its case', async () => {
    const agent = await enrollAgent(server, { deviceType: 'ipPhone', hardwareDetail: uniqueHardware({ model: 'other-model' }) });
    await requestOperation(server, agent.deviceId!, 'updateSoftware', { softwareType: 'teamsClient' });
    assert.equal((await agent.nextWork(0))?.softwareVersion, '1.0.77');
  });

  test('no catalog entry for the software type (or only another tenant\'s) → 400 and no operation', async () => {
    const agent = await enrollAgent(server);
    for (const softwareType of ['partnerAgent', 'companyPortal']) {
      const error = await expectGraphError(await postAction(server, agent.deviceId!, 'updateSoftware', { softwareType }), 400, 'invalidRequest');
      assert.match(error.message, new RegExp(softwareType));
    }
    assert.equal((await deviceOperationRows(server, agent.deviceId!)).length, 0);
    assert.equal(await agent.nextWork(0), null);
  });
});

describe('health after an update', () => {
  test('softwareFreshness updateAvailable before, latest after updating to the newest; healthStatus nonUrgent → healthy', async () => {
    const agent = await enrollAgent(server, { installed: { teamsClient: '1.0.9', firmware: '122.15.0.40' } });
    const deviceId = agent.deviceId!;
    const before = await updateHealth(deviceId);
    assert.deepEqual(before.teamsClientSoftwareUpdateStatus, { currentVersion: '1.0.9', availableVersion: '1.0.10', softwareFreshness: 'updateAvailable' });
    // No catalog entry for firmware: freshness unknown, which does not make the device unhealthy.
    assert.deepEqual(before.firmwareSoftwareUpdateStatus, { currentVersion: '122.15.0.40', availableVersion: null, softwareFreshness: 'unknown' });
    assert.equal(before.partnerAgentSoftwareUpdateStatus, null);
    assert.equal(await healthStatus(deviceId), 'nonUrgent');

    assert.equal(await runUpdate(agent, 'teamsClient'), '1.0.10');

    const after = await updateHealth(deviceId);
    assert.deepEqual(after.teamsClientSoftwareUpdateStatus, { currentVersion: '1.0.10', availableVersion: '1.0.10', softwareFreshness: 'latest' });
    assert.equal(await healthStatus(deviceId), 'healthy');
    const configuration = await graphDevice<{ softwareVersions: Record<string, string | null> }>(server, deviceId, 'configuration');
    assert.equal(configuration.softwareVersions.teamsClientSoftwareVersion, '1.0.10');
  });

  test('an update to an older version than the newest leaves updateAvailable and nonUrgent', async () => {
    const agent = await enrollAgent(server, { installed: { teamsClient: '1.0.8' } });
    await runUpdate(agent, 'teamsClient', { softwareType: 'teamsClient', softwareVersion: '1.0.9' });
    assert.deepEqual((await updateHealth(agent.deviceId!)).teamsClientSoftwareUpdateStatus, {
      currentVersion: '1.0.9', availableVersion: '1.0.10', softwareFreshness: 'updateAvailable',
    });
    assert.equal(await healthStatus(agent.deviceId!), 'nonUrgent');
  });

  test('a device already newer than the catalog is latest, not updateAvailable', async () => {
    const agent = await enrollAgent(server, { installed: { teamsClient: '1.0.11' } });
    const status = (await updateHealth(agent.deviceId!)).teamsClientSoftwareUpdateStatus;
    assert.equal(status?.currentVersion, '1.0.11');
    assert.equal(status?.availableVersion, '1.0.10');
    assert.equal(status?.softwareFreshness, 'latest', 'offering 1.0.10 to a device on 1.0.11 is a downgrade, not an update');
    assert.equal(await healthStatus(agent.deviceId!), 'healthy');
  });

  test('healthStatus rules: required peripheral down or Teams signed out → critical, optional down → not critical', async () => {
    const agent = await enrollAgent(server, { installed: { teamsClient: '1.0.10' } });
    const deviceId = agent.deviceId!;
    const at = new Date().toISOString();
    const connection = (connectionStatus: string) => ({ connectionStatus, lastModifiedDateTime: at });
    const report = async (body: unknown) => {
      const response = await agent.inventory(body);
      assert.equal(response.status, 200);
      return ((await response.json()) as { healthStatus: string }).healthStatus;
    };
    assert.equal(await healthStatus(deviceId), 'healthy');

    assert.equal(await report({ peripheralsHealth: { roomCameraHealth: { isOptional: true, connection: connection('disconnected') } } }), 'healthy');
    assert.equal(await report({ peripheralsHealth: { roomCameraHealth: { isOptional: false, connection: connection('disconnected') } } }), 'critical');
    assert.equal(await healthStatus(deviceId), 'critical');
    assert.equal(await report({ peripheralsHealth: { roomCameraHealth: { isOptional: false, connection: connection('connected') } } }), 'healthy');
    assert.equal(await report({ loginStatus: { teamsConnection: connection('disconnected') } }), 'critical');
    assert.equal(await report({ loginStatus: { teamsConnection: connection('connected') } }), 'healthy');
    // Critical wins over an available update.
    assert.equal(await report({ installed: { teamsClient: '1.0.9' }, loginStatus: { teamsConnection: connection('disconnected') } }), 'critical');
    assert.equal(await report({ loginStatus: { teamsConnection: connection('connected') } }), 'nonUrgent');
    assert.equal(await healthStatus(deviceId), 'nonUrgent');
  });
});
