import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { graphDevice, graphOperation, operationRow, requestOperation, type GraphOperation } from '../helpers/graph-operations.js';
import { expectGraphError, isIsoDate } from '../helpers/http-assertions.js';
import { enrollAgent } from '../helpers/test-agent.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * The supervisor with small deadlines: operations nobody starts, operations nobody finishes,
 * and devices that go silent.
 */

let server: TestServer;

before(async () => {
  server = await startTestServer({ config: { startTimeoutMs: 500, runTimeoutMs: 800, heartbeatTimeoutMs: 1000 } });
});

after(async () => {
  await server?.stop();
});

async function waitForStatus(deviceId: string, operationId: string, status: string): Promise<GraphOperation> {
  return waitFor(`operation ${operationId} to be ${status}`, async () => {
    const operation = await graphOperation(server, deviceId, operationId);
    return operation.status === status ? operation : null;
  }, { timeoutMs: 6000, intervalMs: 100 });
}

describe('operation deadlines', () => {
  test('queued and never acknowledged → failed deviceUnreachable; a late ack or result is a 409', async () => {
    const agent = await enrollAgent(server);
    const deviceId = agent.deviceId!;
    const created = Date.now();
    const operationId = await requestOperation(server, deviceId, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: '1.0.96.22' });
    const failed = await waitForStatus(deviceId, operationId, 'failed');
    const elapsed = Date.now() - created;
    assert.ok(elapsed >= 400, `failed after ${elapsed} ms, before its 500 ms start deadline`);
    assert.equal(failed.error?.code, 'deviceUnreachable');
    assert.equal(typeof failed.error?.message, 'string');
    assert.equal(failed.startedDateTime, null);
    assert.ok(isIsoDate(failed.completedDateTime));

    // The device turns up too late: nothing to do, and its ack or result changes nothing.
    assert.equal(await agent.nextWork(0), null);
    const row = await operationRow(server, operationId);
    await expectGraphError(await agent.ack(operationId), 409, 'conflict');
    await expectGraphError(await agent.result(operationId, { status: 'successful', installed: { teamsClient: '1.0.96.22' } }), 409, 'conflict');
    assert.deepEqual(await operationRow(server, operationId), row);
    // The 409 slot is free again.
    await requestOperation(server, deviceId, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: '1.0.96.22' });
  });

  test('acknowledged and never finished → failed timeout; a late result is a 409 and changes nothing', async () => {
    const agent = await enrollAgent(server, { installed: { teamsClient: '1.0.96.1' } });
    const deviceId = agent.deviceId!;
    // Poll first so the device gets the operation the moment it exists and acks well within 500 ms.
    const waitingBefore = server.engine.devicesWaiting;
    const poll = agent.poll(10);
    await waitFor('the poll to wait', async () => server.engine.devicesWaiting > waitingBefore);
    const operationId = await requestOperation(server, deviceId, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: '1.0.96.23' });
    const polled = await poll;
    assert.equal(polled.status, 200, await polled.text());
    const acked = await agent.ackOk(operationId);
    const ackedAt = Date.now();

    const failed = await waitForStatus(deviceId, operationId, 'failed');
    const elapsed = Date.now() - ackedAt;
    assert.ok(elapsed >= 700, `failed ${elapsed} ms after the ack, before its 800 ms run deadline`);
    assert.equal(failed.error?.code, 'timeout');
    assert.equal(failed.startedDateTime, acked.startedDateTime);
    assert.ok(isIsoDate(failed.completedDateTime));

    const row = await operationRow(server, operationId);
    await expectGraphError(await agent.progress(operationId, { percent: 99 }), 409, 'conflict');
    await expectGraphError(await agent.result(operationId, { status: 'successful', installed: { teamsClient: '1.0.96.23' } }), 409, 'conflict');
    assert.deepEqual(await operationRow(server, operationId), row);
    assert.equal((await graphOperation(server, deviceId, operationId)).error?.code, 'timeout');
    // The late "installed" was not recorded.
    const configuration = await graphDevice<{ softwareVersions: Record<string, string | null> }>(server, deviceId, 'configuration');
    assert.equal(configuration.softwareVersions.teamsClientSoftwareVersion, '1.0.96.1');
  });

  test('progress keeps nothing alive past the run deadline', async () => {
    const agent = await enrollAgent(server);
    const deviceId = agent.deviceId!;
    const waitingBefore = server.engine.devicesWaiting;
    const poll = agent.poll(10);
    await waitFor('the poll to wait', async () => server.engine.devicesWaiting > waitingBefore);
    const operationId = await requestOperation(server, deviceId, 'runDiagnostics');
    const polled = await poll;
    assert.equal(polled.status, 200, await polled.text());
    await agent.ackOk(operationId);
    // Report progress until the supervisor fails it; from then on progress is a 409.
    await waitFor('progress to be refused after the run deadline', async () => {
      const response = await agent.progress(operationId, { percent: 50 });
      await response.body?.cancel();
      return response.status === 409;
    }, { timeoutMs: 6000, intervalMs: 100 });
    const failed = await graphOperation(server, deviceId, operationId);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error?.code, 'timeout');
  });
});

// The two run side by side (different devices), to keep the file short.
describe('heartbeats', { concurrency: true }, () => {
  test('a silent device becomes disconnected and offline, and connected again once it polls', async () => {
    const agent = await enrollAgent(server);
    const deviceId = agent.deviceId!;
    const state = async () => {
      const device = await graphDevice<{ healthStatus: string; activityState: string }>(server, deviceId);
      const health = await graphDevice<{ connection: { connectionStatus: string; lastModifiedDateTime: string } }>(server, deviceId, 'health');
      return { healthStatus: device.healthStatus, activityState: device.activityState, connection: health.connection };
    };
    const enrolled = await state();
    assert.equal(enrolled.connection.connectionStatus, 'connected');
    assert.notEqual(enrolled.healthStatus, 'offline');

    // The device says nothing more.
    const silent = await waitFor('the silent device to be disconnected', async () => {
      const s = await state();
      return s.connection.connectionStatus === 'disconnected' && s.healthStatus === 'offline' ? s : null;
    }, { timeoutMs: 6000, intervalMs: 100 });
    assert.equal(silent.activityState, 'unavailable');
    assert.ok(isIsoDate(silent.connection.lastModifiedDateTime));

    // It comes back and polls (as an agent does, over and over).
    const back = await waitFor('the device to be connected again', async () => {
      const poll = await agent.poll(0);
      await poll.body?.cancel();
      const s = await state();
      return s.connection.connectionStatus === 'connected' && s.healthStatus !== 'offline' ? s : null;
    }, { timeoutMs: 6000, intervalMs: 100 });
    assert.notEqual(back.activityState, 'unavailable');
  });

  test('a device that keeps polling stays connected', async () => {
    const agent = await enrollAgent(server);
    const deviceId = agent.deviceId!;
    // Poll continuously for four heartbeat timeouts (two presence flushes); every check must see it connected.
    const until = Date.now() + 4000;
    const seen: string[] = [];
    while (Date.now() < until) {
      const poll = await agent.poll(0);
      await poll.body?.cancel();
      const health = await graphDevice<{ connection: { connectionStatus: string } }>(server, deviceId, 'health');
      seen.push(health.connection.connectionStatus);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(!seen.includes('disconnected'), `a polling device was seen disconnected: ${seen.join(',')}`);
  });
});
