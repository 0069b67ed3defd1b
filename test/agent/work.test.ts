import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { graphDevice, operationRow, requestOperation } from '../helpers/graph-operations.js';
import { expectGraphError } from '../helpers/http-assertions.js';
import { enrollAgent } from '../helpers/test-agent.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * The agent's work loop as a protocol: the long-poll (held, answered at once, released when
 * the device hangs up), the work item, and validation of progress, result and inventory.
 */

let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server?.stop();
});

describe('long-poll', () => {
  test('with nothing to do the poll is held for waitSeconds, then 204 with no body', async () => {
    const agent = await enrollAgent(server);
    const started = Date.now();
    const response = await agent.poll(1);
    const elapsed = Date.now() - started;
    assert.equal(response.status, 204);
    assert.equal(await response.text(), '');
    assert.ok(elapsed >= 900, `held ${elapsed} ms, expected about 1000`);
    assert.ok(elapsed < 3000, `held ${elapsed} ms, expected about 1000`);

    const immediate = Date.now();
    const now = await agent.poll(0);
    assert.equal(now.status, 204);
    assert.ok(Date.now() - immediate < 1000, 'waitSeconds=0 answers at once');
  });

  test('existing work is answered at once with the work item', async () => {
    const agent = await enrollAgent(server);
    const operationId = await requestOperation(server, agent.deviceId!, 'updateSoftware', { softwareType: 'firmware', softwareVersion: '122.15.0.41' });
    const started = Date.now();
    const response = await agent.poll(20);
    assert.ok(Date.now() - started < 2000, 'not held when work is waiting');
    assert.equal(response.status, 200);
    const body = (await response.json()) as { operation: Record<string, unknown> };
    assert.deepEqual(Object.keys(body), ['operation']);
    assert.deepEqual(Object.keys(body.operation).sort(), [
      'artifact', 'cancelRequested', 'createdDateTime', 'id', 'operationType', 'softwareType', 'softwareVersion', 'startedDateTime', 'status',
    ]);
    assert.equal(body.operation.id, operationId);
    assert.equal(body.operation.operationType, 'softwareUpdate');
    assert.equal(body.operation.softwareType, 'firmware');
    assert.equal(body.operation.softwareVersion, '122.15.0.41');
    assert.equal(body.operation.status, 'queued');
    assert.equal(body.operation.cancelRequested, false);
    assert.equal(body.operation.startedDateTime, null);
    assert.equal(body.operation.artifact, null, 'the catalog entry has no artifact');
    // Polling again without acknowledging hands out the same operation (nothing is consumed by a poll).
    assert.equal((await agent.nextWork(0))?.id, operationId);
  });

  test('a device that hangs up releases its waiting poll', async () => {
    const agent = await enrollAgent(server);
    const waitingBefore = server.engine.devicesWaiting;
    const abort = new AbortController();
    const poll = agent.poll(20, { signal: abort.signal }).catch((error: Error) => error);
    await waitFor('the poll to wait', async () => server.engine.devicesWaiting === waitingBefore + 1);
    abort.abort();
    assert.ok((await poll) instanceof Error);
    await waitFor('the waiter to be released', async () => server.engine.devicesWaiting === waitingBefore, { timeoutMs: 3000 });
  });

  test('hung-up polls hold nothing: after three hang-ups the device may still hold two polls, and work wakes them both', async () => {
    const agent = await enrollAgent(server);
    const waitingBefore = server.engine.devicesWaiting;
    // A device may hold two polls at once (a reconnect); polls it hung up must not count.
    for (let i = 0; i < 3; i++) {
      const abort = new AbortController();
      const poll = agent.poll(20, { signal: abort.signal }).catch((error: Error) => error);
      await waitFor('the poll to wait', async () => server.engine.devicesWaiting === waitingBefore + 1);
      abort.abort();
      assert.ok((await poll) instanceof Error);
      await waitFor('the waiter to be released', async () => server.engine.devicesWaiting === waitingBefore, { timeoutMs: 3000 });
    }
    const first = agent.poll(20);
    const second = agent.poll(20);
    // both are registered before the operation is asked for (one device: one entry)
    await waitFor('both polls to wait', async () => server.engine.devicesWaiting === waitingBefore + 1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    const operationId = await requestOperation(server, agent.deviceId!, 'restart');
    const [a, b] = await Promise.all([first, second]);
    assert.ok(Date.now() - started < 3000, 'both polls answered at once');
    for (const response of [a, b]) {
      assert.equal(response.status, 200);
      assert.equal(((await response.json()) as { operation: { id: string } }).operation.id, operationId);
    }
    assert.equal(server.engine.devicesWaiting, waitingBefore);
  });

  test('polls of different lengths each end at their own time, and a third poll of one device is refused', async () => {
    const agent = await enrollAgent(server);
    const started = Date.now();
    const ended = (response: Promise<Response>) => response.then(async (r) => ({ status: r.status, at: Date.now() - started }));
    const long = ended(agent.poll(2));
    const short = ended(agent.poll(1));
    await waitFor('both polls to wait', async () => server.engine.devicesWaiting >= 1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await expectGraphError(await agent.poll(1), 429, 'activityLimitReached');
    const [a, b] = await Promise.all([short, long]);
    assert.equal(a.status, 204);
    assert.equal(b.status, 204);
    assert.ok(a.at >= 900 && a.at < 1900, `the 1 s poll ended after ${a.at} ms`);
    assert.ok(b.at >= 1900 && b.at < 3500, `the 2 s poll ended after ${b.at} ms`);
  });

  test('each poll is a heartbeat: last_seen_at moves forward', async () => {
    const agent = await enrollAgent(server);
    const seen = async () => {
      const [row] = await server.query<{ last_seen_at: string | Date }>('SELECT last_seen_at FROM devices WHERE id = ?', [agent.deviceId]);
      return new Date(row.last_seen_at).getTime();
    };
    const enrolledAt = await seen();
    await agent.poll(0);
    await waitFor('the poll to be recorded as a heartbeat', async () => (await seen()) > enrolledAt, { timeoutMs: 6000, intervalMs: 200 });
  });

  test('other methods on agent routes are a 405', async () => {
    const agent = await enrollAgent(server);
    const response = await agent.send('DELETE', '/agent/v1/work');
    await expectGraphError(response, 405, 'methodNotAllowed');
  });
});

describe('message validation', () => {
  test('progress: bad bodies are a 400; progress before the ack is a 409', async () => {
    const agent = await enrollAgent(server);
    const operationId = await requestOperation(server, agent.deviceId!, 'runDiagnostics');
    await expectGraphError(await agent.progress(operationId, { percent: 10 }), 409, 'conflict');
    await agent.ackOk(operationId);
    const bad: [string, unknown][] = [
      ['percent above 100', { percent: 101 }],
      ['negative percent', { percent: -1 }],
      ['fractional percent', { percent: 1.5 }],
      ['percent as text', { percent: '50' }],
      ['a long message', { message: 'x'.repeat(513) }],
      ['an unknown property', { percent: 5, eta: 30 }],
      ['an array', [5]],
    ];
    for (const [what, body] of bad) {
      await expectGraphError(await agent.progress(operationId, body), 400, 'invalidRequest').catch((e: Error) => {
        throw new Error(`${what}: ${e.message}`);
      });
    }
    const ok = await agent.progress(operationId, { percent: 100, message: 'collecting logs' });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { cancelRequested: false });
    const row = await operationRow(server, operationId);
    assert.equal(row.progress_percent, 100);
    assert.equal(row.progress_message, 'collecting logs');
  });

  test('result: bad bodies are a 400 and the operation keeps running', async () => {
    const agent = await enrollAgent(server);
    const operationId = await requestOperation(server, agent.deviceId!, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: '1.0.96.30' });
    await agent.ackOk(operationId);
    const before = await operationRow(server, operationId);
    const bad: [string, unknown][] = [
      ['no status', { installed: { teamsClient: '1.0.96.30' } }],
      ['an unknown status', { status: 'done' }],
      ['error without message', { status: 'failed', error: { code: 'downloadFailed' } }],
      ['error as text', { status: 'failed', error: 'downloadFailed' }],
      ['an unknown software type installed', { status: 'successful', installed: { toaster: '1' } }],
      ['a malformed version installed', { status: 'successful', installed: { teamsClient: '1.0 beta' } }],
      ['diagnostics as a list', { status: 'successful', diagnostics: ['a'] }],
      ['an unknown property', { status: 'successful', installed: { teamsClient: '1.0.96.30' }, reboot: true }],
      ['not an object', '"successful"'],
    ];
    for (const [what, body] of bad) {
      await expectGraphError(await agent.result(operationId, body), 400, 'invalidRequest').catch((e: Error) => {
        throw new Error(`${what}: ${e.message}`);
      });
    }
    assert.deepEqual(await operationRow(server, operationId), before);
    assert.equal(before.status, 'inProgress');
  });

  test('inventory: 200 with the healthStatus; the reported parts show in Graph; bad bodies are a 400', async () => {
    const agent = await enrollAgent(server);
    const now = new Date().toISOString();
    const speaker = { id: 'spk-1', displayName: 'Logitech Speaker', vendorId: 'VID_046D', productId: 'PID_0864' };
    const response = await agent.inventory({
      installed: { teamsClient: '1.0.96.5', operatingSystem: '12' },
      activityState: 'busy',
      activePeripherals: { speaker },
      peripheralsHealth: { speakerHealth: { isOptional: false, connection: { connectionStatus: 'connected', lastModifiedDateTime: now } } },
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { healthStatus: string };
    assert.deepEqual(Object.keys(body), ['healthStatus']);
    assert.equal(typeof body.healthStatus, 'string');

    const device = await graphDevice<{ activityState: string; healthStatus: string }>(server, agent.deviceId!);
    assert.equal(device.activityState, 'busy');
    assert.equal(device.healthStatus, body.healthStatus);
    const activity = await graphDevice<{ activePeripherals: { speaker: unknown } }>(server, agent.deviceId!, 'activity');
    assert.deepEqual(activity.activePeripherals.speaker, speaker);
    const health = await graphDevice<{ peripheralsHealth: { speakerHealth: { isOptional: boolean } } }>(server, agent.deviceId!, 'health');
    assert.equal(health.peripheralsHealth.speakerHealth.isOptional, false);
    const configuration = await graphDevice<{ softwareVersions: Record<string, string | null> }>(server, agent.deviceId!, 'configuration');
    assert.equal(configuration.softwareVersions.teamsClientSoftwareVersion, '1.0.96.5');
    assert.equal(configuration.softwareVersions.operatingSystemSoftwareVersion, '12');

    const bad: [string, unknown][] = [
      ['an unknown activityState', { activityState: 'asleep' }],
      ['an unknown property', { battery: 80 }],
      ['peripheralsHealth as a list', { peripheralsHealth: [] }],
      ['a bad installed map', { installed: { teamsClient: 3 } }],
    ];
    for (const [what, report] of bad) {
      await expectGraphError(await agent.inventory(report), 400, 'invalidRequest').catch((e: Error) => {
        throw new Error(`${what}: ${e.message}`);
      });
    }
  });
});
