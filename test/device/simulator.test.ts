import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SimulatedDevice, type SimulatedDeviceOptions } from '../../src/device/simulated-device.js';
import { updateFailures } from '../../src/device/update-failures.js';
import type { Device } from '../../src/domain/device.js';
import { generateDevices } from '../../src/seed/device-generator.js';
import { cancelOperation, graphDevice, graphOperation, operationRow, requestOperation } from '../helpers/graph-operations.js';
import { enrollmentToken } from '../helpers/test-agent.js';
import { offer, offersOf } from '../helpers/test-catalog.js';
import { scratchDatabase } from '../helpers/test-database.js';
import { startTestServer, tenantA, type TestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * The simulated device against a real server over HTTP: it enrolls, runs updates that
 * succeed, fail or install the wrong version, restarts and comes back, honours a cancel, and
 * carries on when the server restarts under it. Timings are short so the file runs in seconds.
 */

let server: TestServer;
let token: string;
const running: SimulatedDevice[] = [];
let nextIndex = 0;

/** The versions this file's updates install: newer than any a simulated device runs. */
const newTeamsClient = '1.0.96.2030010101';
const newerTeamsClient = '1.0.96.2030020202';
const offered = offersOf([newTeamsClient, newerTeamsClient], ['teamsClient']);

before(async () => {
  server = await startTestServer();
  await offer(server.store, tenantA, offered);
  token = await enrollmentToken(server);
});

after(async () => {
  await Promise.all(running.map((device) => device.stop()));
  await server?.stop();
});

/** A generated device that runs a Teams client (not a SIP phone), never used by another test. */
function template(): Device {
  for (;;) {
    const [device] = generateDevices({ tenantId: tenantA, count: 1, seed: 0x7e57, startIndex: nextIndex++ });
    if (device.installed.teamsClient) return device;
  }
}

/** A started device with short timings; stopped after the file. */
async function startDevice(url: string, enrollment: string, options: Partial<SimulatedDeviceOptions> = {}): Promise<SimulatedDevice> {
  const device = new SimulatedDevice({
    url,
    enrollmentToken: enrollment,
    template: template(),
    updateMs: 200,
    failureRate: 0,
    rebootMs: 300,
    heartbeatMs: 500,
    longPollSeconds: 5,
    retry: { baseMs: 50, capMs: 300 },
    ...options,
  });
  running.push(device);
  await device.start();
  assert.ok(device.deviceId, 'enrolled');
  return device;
}

async function finished(target: TestServer, deviceId: string, operationId: string) {
  return waitFor(`operation ${operationId} to finish`, async () => {
    const operation = await graphOperation(target, deviceId, operationId);
    return ['successful', 'failed', 'cancelled'].includes(operation.status) ? operation : null;
  }, { timeoutMs: 10_000 });
}

describe('simulated device', () => {
  test('enrolls with its generated hardware and reports its inventory', async () => {
    const generated = template();
    const device = await startDevice(server.url, token, { template: generated });
    const deviceId = device.deviceId!;
    const graph = await graphDevice<{ deviceType: string; hardwareDetail: { serialNumber: string; uniqueId: string } }>(server, deviceId);
    const [row] = await server.query<{ tenant_id: string }>('SELECT tenant_id FROM devices WHERE id = ?', [deviceId]);
    assert.equal(row.tenant_id, tenantA);
    assert.equal(graph.deviceType, generated.deviceType);
    assert.equal(graph.hardwareDetail.uniqueId, generated.hardwareDetail.uniqueId);
    assert.equal(graph.hardwareDetail.serialNumber, generated.hardwareDetail.serialNumber);
    // The first heartbeat is the full report: the health parts arrive, the device is connected.
    const health = await waitFor('the full inventory report', async () => {
      const h = await graphDevice<{ connection: { connectionStatus: string } | null; loginStatus: { teamsConnection: unknown } | null }>(server, deviceId, 'health');
      return h.loginStatus?.teamsConnection ? h : null;
    });
    assert.equal(health.connection?.connectionStatus, 'connected');
    const configuration = await graphDevice<{ softwareVersions: { teamsClientSoftwareVersion: string | null } }>(server, deviceId, 'configuration');
    assert.equal(configuration.softwareVersions.teamsClientSoftwareVersion, device.installed.teamsClient);
    assert.equal(device.state, 'polling');
  });

  test('an update that succeeds: the operation is successful and the device reports the new version', async () => {
    const device = await startDevice(server.url, token);
    const deviceId = device.deviceId!;
    const operationId = await requestOperation(server, deviceId, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: newTeamsClient });
    const operation = await finished(server, deviceId, operationId);
    assert.equal(operation.status, 'successful', JSON.stringify(operation.error));
    assert.equal(operation.error, null);
    assert.equal(device.installed.teamsClient, newTeamsClient);
    const row = await operationRow(server, operationId);
    assert.equal(row.status, 'successful');
    const configuration = await graphDevice<{ softwareVersions: { teamsClientSoftwareVersion: string | null } }>(server, deviceId, 'configuration');
    assert.equal(configuration.softwareVersions.teamsClientSoftwareVersion, newTeamsClient);
    // The server records the result before the device has read the reply.
    await waitFor('the device to count the operation', async () => device.operationsRun === 1);
    assert.equal(device.failures, 0);
  });

  test('failure rate 1: the update fails with one of the realistic errors and nothing changes', async () => {
    const device = await startDevice(server.url, token, { failureRate: 1 });
    const before = device.installed.teamsClient;
    const operationId = await requestOperation(server, device.deviceId!, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: newTeamsClient });
    const operation = await finished(server, device.deviceId!, operationId);
    assert.equal(operation.status, 'failed');
    assert.ok(updateFailures.some((f) => f.code === operation.error?.code), `error ${JSON.stringify(operation.error)}`);
    assert.match(operation.error?.message ?? '', /teamsClient/);
    assert.equal(device.installed.teamsClient, before);
    await waitFor('the device to count the failure', async () => device.failures === 1);
  });

  test('an installer that changes nothing: the server fails the operation with versionMismatch', async () => {
    const device = await startDevice(server.url, token, { versionMismatchRate: 1 });
    const before = device.installed.teamsClient!;
    const operationId = await requestOperation(server, device.deviceId!, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: newTeamsClient });
    const operation = await finished(server, device.deviceId!, operationId);
    assert.equal(operation.status, 'failed');
    assert.equal(operation.error?.code, 'versionMismatch');
    assert.ok(operation.error?.message?.includes(before), operation.error?.message ?? '');
    assert.equal(device.installed.teamsClient, before);
    // The device reported success; it counts what the server recorded.
    await waitFor('the device to count the failure', async () => device.failures === 1);
  });

  test('restart: the device goes away, comes back and takes the next operation', async () => {
    const device = await startDevice(server.url, token, { rebootMs: 800 });
    const deviceId = device.deviceId!;
    const restart = await requestOperation(server, deviceId, 'restart');
    await waitFor('the device to restart', async () => device.isRebooting);
    assert.equal((await graphOperation(server, deviceId, restart)).status, 'successful', 'reported before going down');
    await waitFor('the device to come back', async () => device.state === 'polling', { timeoutMs: 5000 });
    const diagnostics = await requestOperation(server, deviceId, 'runDiagnostics');
    const operation = await finished(server, deviceId, diagnostics);
    assert.equal(operation.status, 'successful');
    const [row] = await server.query<{ result: unknown }>('SELECT result FROM operations WHERE id = ?', [diagnostics]);
    assert.match(JSON.stringify(row.result), /logFile/);
    await waitFor('the device to count both operations', async () => device.operationsRun === 2);
  });

  test('cancel of a running update: the device stops and confirms; nothing is installed', async () => {
    const device = await startDevice(server.url, token, { updateMs: 4000 });
    const deviceId = device.deviceId!;
    const before = device.installed.teamsClient;
    const operationId = await requestOperation(server, deviceId, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: newTeamsClient });
    await waitFor('the update to run', async () => (await graphOperation(server, deviceId, operationId)).status === 'inProgress');
    const response = await cancelOperation(server, deviceId, operationId);
    assert.equal(response.status, 202, await response.clone().text());
    const operation = await finished(server, deviceId, operationId);
    assert.equal(operation.status, 'cancelled');
    assert.equal(device.installed.teamsClient, before);
    const row = await operationRow(server, operationId);
    assert.equal(row.status, 'cancelled');
  });
});

describe('server restart', () => {
  test('the device reconnects to the new server on the same database and completes a new operation', async () => {
    const { db, remove } = await scratchDatabase('twd-sim-');
    const servers: TestServer[] = [];
    try {
      const first = await startTestServer({ config: { db } });
      servers.push(first);
      await offer(first.store, tenantA, offered);
      const port = Number(new URL(first.url).port);
      const logs: string[] = [];
      const device = await startDevice(first.url, await enrollmentToken(first), { log: (line) => logs.push(line) });
      const deviceId = device.deviceId!;
      const warmUp = await requestOperation(first, deviceId, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: newTeamsClient });
      assert.equal((await finished(first, deviceId, warmUp)).status, 'successful');

      await first.stop();
      await waitFor('the device to find the server gone', async () => logs.some((line) => /\/agent\/v1\/work failed \(ECONNREFUSED\); retrying/.test(line)));
      const second = await startTestServer({ config: { db, port } });
      servers.push(second);
      assert.equal(second.url, first.url);

      const operationId = await requestOperation(second, deviceId, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: newerTeamsClient });
      const operation = await finished(second, deviceId, operationId);
      assert.equal(operation.status, 'successful', JSON.stringify(operation.error));
      assert.equal(device.installed.teamsClient, newerTeamsClient);
      assert.equal(device.deviceId, deviceId, 'the same device, not a new enrollment');
      const rows = await second.query<{ n: number | string }>('SELECT COUNT(*) AS n FROM devices WHERE tenant_id = ?', [tenantA]);
      assert.equal(Number(rows[0].n), 1);
    } finally {
      for (const s of servers) await s.stop().catch(() => {});
      await remove();
    }
  });
});
