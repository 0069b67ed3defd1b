import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import {
  cancelOperation, deviceOperationRows, graphDevice, graphOperation, operationRow, postAction, requestOperation, softwareUpdateHealth,
} from '../helpers/graph-operations.js';
import { expectGraphError, isIsoDate } from '../helpers/http-assertions.js';
import { enrollAgent } from '../helpers/test-agent.js';
import { testStore } from '../helpers/test-database.js';
import { startTestServer, tenantA, type TestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * The life of an operation through both doors: an admin asks through Graph, a device runs
 * it through the agent API, and Graph tells the truth about what happened.
 */

let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server?.stop();
});

describe('the full life of each operation type', () => {
  test('updateSoftware: 202, the waiting poll gets it at once, ack, progress, result → successful; health and configuration show the version', async () => {
    const agent = await enrollAgent(server, { installed: { teamsClient: '1.0.96.1', firmware: '122.15.0.40' } });
    const deviceId = agent.deviceId!;

    // The device is already long-polling when the admin asks.
    const waitingBefore = server.engine.devicesWaiting;
    const pollStarted = Date.now();
    const poll = agent.poll(20);
    await waitFor('the device\'s poll to be waiting', async () => server.engine.devicesWaiting > waitingBefore);
    const requested = Date.now();
    const operationId = await requestOperation(server, deviceId, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: '1.0.96.22' });
    const response = await poll;
    const answered = Date.now();
    assert.equal(response.status, 200);
    assert.ok(answered - requested < 2000, `the poll answered ${answered - requested} ms after the 202 (waited 20 s at most)`);
    assert.ok(answered - pollStarted < 20_000);
    const work = ((await response.json()) as { operation: Record<string, unknown> }).operation;
    assert.equal(work.id, operationId);
    assert.equal(work.operationType, 'softwareUpdate');
    assert.equal(work.softwareType, 'teamsClient');
    assert.equal(work.softwareVersion, '1.0.96.22');
    assert.equal(work.status, 'queued');

    const queued = await graphOperation(server, deviceId, operationId);
    assert.equal(queued.status, 'queued');
    assert.equal(work.createdDateTime, queued.createdDateTime);

    // Ack: inProgress with a startedDateTime, in the reply and in Graph.
    const acked = await agent.ackOk(operationId);
    assert.equal(acked.status, 'inProgress');
    assert.ok(isIsoDate(acked.startedDateTime), String(acked.startedDateTime));
    const running = await graphOperation(server, deviceId, operationId);
    assert.equal(running.status, 'inProgress');
    assert.equal(running.startedDateTime, acked.startedDateTime);
    assert.equal(running.completedDateTime, null);
    assert.equal(running.error, null);

    // Progress.
    for (const percent of [10, 60]) {
      const progress = await agent.progress(operationId, { percent, message: percent < 50 ? 'downloading' : 'installing' });
      assert.equal(progress.status, 200);
      assert.deepEqual(await progress.json(), { cancelRequested: false });
    }
    assert.equal((await operationRow(server, operationId)).progress_percent, 60);
    // Graph's shape has no progress: the extension appears only on a running operation that reported some.
    assert.ok(!('progressPercent' in running), 'no progress before the device reports any');
    const reported = (await graphOperation(server, deviceId, operationId)) as unknown as Record<string, unknown>;
    assert.equal(reported.progressPercent, 60);
    assert.equal(reported.progressMessage, 'installing');

    // Result with the requested version installed.
    const finished = await agent.resultOk(operationId, { status: 'successful', installed: { teamsClient: '1.0.96.22' } });
    assert.equal(finished.status, 'successful');
    const done = await graphOperation(server, deviceId, operationId);
    assert.equal(done.status, 'successful');
    assert.equal(done.error, null);
    assert.equal(done.startedDateTime, acked.startedDateTime);
    assert.ok(isIsoDate(done.completedDateTime), String(done.completedDateTime));
    assert.ok(Date.parse(done.completedDateTime!) >= Date.parse(done.startedDateTime!));
    assert.equal(done.lastActionBy?.device?.id, deviceId, 'the device is the last actor');
    assert.ok(!('progressPercent' in done) && !('progressMessage' in done), 'an ended operation keeps Graph\'s exact shape');

    const health = await softwareUpdateHealth(server, deviceId);
    assert.equal(health.teamsClientSoftwareUpdateStatus?.currentVersion, '1.0.96.22');
    // Other software is untouched.
    assert.equal(health.firmwareSoftwareUpdateStatus?.currentVersion, '122.15.0.40');
    const configuration = await graphDevice<{ softwareVersions: Record<string, string | null> }>(server, deviceId, 'configuration');
    assert.equal(configuration.softwareVersions.teamsClientSoftwareVersion, '1.0.96.22');
    assert.equal(configuration.softwareVersions.firmwareSoftwareVersion, '122.15.0.40');

    // Nothing more to do.
    assert.equal(await agent.nextWork(0), null);
  });

  test('restart: deviceRestart runs and ends successful; the device comes back with an inventory report', async () => {
    const agent = await enrollAgent(server);
    const deviceId = agent.deviceId!;
    const operationId = await requestOperation(server, deviceId, 'restart');
    const work = await agent.nextWork(0);
    assert.equal(work?.id, operationId);
    assert.equal(work?.operationType, 'deviceRestart');
    assert.equal(work?.softwareType, null);
    assert.equal(work?.softwareVersion, null);
    await agent.ackOk(operationId);
    assert.equal((await graphOperation(server, deviceId, operationId)).status, 'inProgress');
    // Back from the reboot: inventory, then the result.
    const inventory = await agent.inventory({ activityState: 'idle' });
    assert.equal(inventory.status, 200);
    // After a reboot the agent polls again and gets its running restart back, not a new one.
    const again = await agent.nextWork(0);
    assert.equal(again?.id, operationId);
    assert.equal(again?.status, 'inProgress');
    await agent.resultOk(operationId, { status: 'successful' });
    const done = await graphOperation(server, deviceId, operationId);
    assert.equal(done.operationType, 'deviceRestart');
    assert.equal(done.status, 'successful');
    assert.ok(isIsoDate(done.startedDateTime));
    assert.ok(isIsoDate(done.completedDateTime));
    assert.equal(done.error, null);

    // The device is rebooting now: offline until its agent is heard from again.
    const rebooting = await graphDevice<{ connection: { connectionStatus: string } }>(server, deviceId, 'health');
    assert.equal(rebooting.connection.connectionStatus, 'disconnected');
    assert.equal((await graphDevice<{ healthStatus: string }>(server, deviceId)).healthStatus, 'offline');
    await agent.nextWork(0);
    await waitFor('the device to be connected again after its reboot', async () => {
      const health = await graphDevice<{ connection: { connectionStatus: string } }>(server, deviceId, 'health');
      return health.connection.connectionStatus === 'connected' ? health : undefined;
    }, { timeoutMs: 8000 });
  });

  test('runDiagnostics: successful, with the diagnostics readable at …/operations/{opId}/result', async () => {
    const agent = await enrollAgent(server);
    const deviceId = agent.deviceId!;
    const operationId = await requestOperation(server, deviceId, 'runDiagnostics');
    const work = await agent.nextWork(0);
    assert.equal(work?.id, operationId);
    assert.equal(work?.operationType, 'deviceDiagnostics');
    await agent.ackOk(operationId);
    // No result yet.
    await expectGraphError(await server.request(`/beta/teamwork/devices/${deviceId}/operations/${operationId}/result`), 404, 'itemNotFound');

    const diagnostics = {
      cpuPercent: 12,
      memoryFreeMb: 812,
      network: { latencyMs: 23, packetLoss: 0 },
      logs: ['teams.log', 'agent.log'],
    };
    await agent.resultOk(operationId, { status: 'successful', diagnostics });
    const done = await graphOperation(server, deviceId, operationId);
    assert.equal(done.status, 'successful');
    assert.equal(done.operationType, 'deviceDiagnostics');

    for (const prefix of ['/beta', '']) {
      const response = await server.request(`${prefix}/teamwork/devices/${deviceId}/operations/${operationId}/result`);
      assert.equal(response.status, 200);
      const result = (await response.json()) as Record<string, unknown>;
      assert.equal(result.id, operationId);
      assert.equal(result.operationType, 'deviceDiagnostics');
      assert.equal(result.status, 'successful');
      assert.deepEqual(result.diagnostics, diagnostics);
    }
    // Another tenant's admin cannot read it.
    const other = await server.token({ tenantId: '22222222-2222-4222-8222-222222222222' });
    const foreign = await server.request(`/beta/teamwork/devices/${deviceId}/operations/${operationId}/result`, { token: other });
    await expectGraphError(foreign, 404, 'itemNotFound');
  });
});

describe('409 and the queue', () => {
  test('409 while queued, 202 again once the device has started the pending one', async () => {
    const agent = await enrollAgent(server);
    const deviceId = agent.deviceId!;
    const body = { softwareType: 'teamsClient', softwareVersion: '1.0.96.40' };
    const first = await requestOperation(server, deviceId, 'updateSoftware', body);
    await expectGraphError(await postAction(server, deviceId, 'updateSoftware', body), 409, 'conflict');
    // Another software type is another kind: not blocked.
    const firmware = await requestOperation(server, deviceId, 'updateSoftware', { softwareType: 'firmware', softwareVersion: '122.15.0.41' });
    assert.equal((await agent.nextWork(0))?.id, first);
    await agent.ackOk(first);
    const second = await requestOperation(server, deviceId, 'updateSoftware', body);
    assert.notEqual(second, first);
    // …and a third is blocked by the second, which is now the pending one.
    await expectGraphError(await postAction(server, deviceId, 'updateSoftware', body), 409, 'conflict');

    const rows = await deviceOperationRows(server, deviceId);
    assert.deepEqual(rows.map((r) => [r.id, r.status]), [[first, 'inProgress'], [firmware, 'queued'], [second, 'queued']]);
  });

  test('one at a time, oldest first: the running operation comes back from the poll and blocks the next', async () => {
    const agent = await enrollAgent(server);
    const deviceId = agent.deviceId!;
    const restart = await requestOperation(server, deviceId, 'restart');
    const diagnostics = await requestOperation(server, deviceId, 'runDiagnostics');

    assert.equal((await agent.nextWork(0))?.id, restart, 'the oldest first');
    // Jumping the queue is refused and changes nothing.
    const before = await operationRow(server, diagnostics);
    await expectGraphError(await agent.ack(diagnostics), 409, 'conflict');
    assert.deepEqual(await operationRow(server, diagnostics), before);

    const startedRestart = await agent.ackOk(restart);
    // While the restart runs, the poll returns it again (the device finishes it first).
    const whileRunning = await agent.nextWork(0);
    assert.equal(whileRunning?.id, restart);
    assert.equal(whileRunning?.status, 'inProgress');
    assert.equal(whileRunning?.startedDateTime, startedRestart.startedDateTime);
    // A long-poll with the restart running is answered at once with it too.
    const started = Date.now();
    assert.equal((await agent.nextWork(5))?.id, restart);
    assert.ok(Date.now() - started < 2000);
    await expectGraphError(await agent.ack(diagnostics), 409, 'conflict');
    assert.equal((await operationRow(server, diagnostics)).status, 'queued');

    await agent.resultOk(restart, { status: 'successful' });
    const next = await agent.nextWork(0);
    assert.equal(next?.id, diagnostics);
    await agent.ackOk(diagnostics);
    await agent.resultOk(diagnostics, { status: 'successful', diagnostics: { ok: true } });
    assert.equal(await agent.nextWork(0), null);
  });

  test('after a result, the next poll gets the next queued operation at once', async () => {
    const agent = await enrollAgent(server);
    const deviceId = agent.deviceId!;
    const first = await requestOperation(server, deviceId, 'restart');
    const second = await requestOperation(server, deviceId, 'runDiagnostics');
    await agent.ackOk(first);
    await agent.resultOk(first, { status: 'successful' });
    const started = Date.now();
    assert.equal((await agent.nextWork(10))?.id, second);
    assert.ok(Date.now() - started < 2000);
  });
});

describe('truthful results', () => {
  test('successful with another version installed → failed, versionMismatch naming both versions', async () => {
    const agent = await enrollAgent(server, { installed: { teamsClient: '1.0.96.1' } });
    const deviceId = agent.deviceId!;
    const operationId = await requestOperation(server, deviceId, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: '2.0.0.7' });
    await agent.ackOk(operationId);
    const reply = await agent.resultOk(operationId, { status: 'successful', installed: { teamsClient: '1.9.9.3' } });
    assert.equal(reply.status, 'failed');
    const operation = await graphOperation(server, deviceId, operationId);
    assert.equal(operation.status, 'failed');
    assert.ok(isIsoDate(operation.completedDateTime));
    assert.equal(operation.error?.code, 'versionMismatch');
    assert.match(operation.error?.message ?? '', /1\.9\.9\.3/);
    assert.match(operation.error?.message ?? '', /2\.0\.0\.7/);
    // Health shows what the device really runs, not what was asked.
    assert.equal((await softwareUpdateHealth(server, deviceId)).teamsClientSoftwareUpdateStatus?.currentVersion, '1.9.9.3');
  });

  test('successful without the software in installed → failed, versionMismatch', async () => {
    const agent = await enrollAgent(server);
    const operationId = await requestOperation(server, agent.deviceId!, 'updateSoftware', { softwareType: 'firmware', softwareVersion: '123.0.0.1' });
    await agent.ackOk(operationId);
    await agent.resultOk(operationId, { status: 'successful', installed: { teamsClient: '1.0.96.1' } });
    const operation = await graphOperation(server, agent.deviceId!, operationId);
    assert.equal(operation.status, 'failed');
    assert.equal(operation.error?.code, 'versionMismatch');
    assert.match(operation.error?.message ?? '', /123\.0\.0\.1/);
  });

  test('an operation reads successful only once the device shows the version (PostgreSQL: another session holds the device row meanwhile)', { skip: testStore !== 'postgres' && 'row locks of another session: run in the PostgreSQL pass' }, async () => {
    const agent = await enrollAgent(server, { installed: { teamsClient: '1.0.96.1' } });
    const deviceId = agent.deviceId!;
    const operationId = await requestOperation(server, deviceId, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: '1.0.96.77' });
    await agent.ackOk(operationId);
    const holder = new pg.Client({ connectionString: server.dbPath });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT id FROM devices WHERE tenant_id = $1 AND id = $2 FOR UPDATE', [tenantA, deviceId]);
      const reported = agent.result(operationId, { status: 'successful', installed: { teamsClient: '1.0.96.77' } });
      await new Promise((resolve) => setTimeout(resolve, 300));
      // The device's versions cannot be written yet, so the operation must not read ended either.
      const meanwhile = await graphOperation(server, deviceId, operationId);
      await holder.query('COMMIT');
      assert.equal(meanwhile.status, 'inProgress', 'the operation ended before the device showed what it runs');
      assert.equal((await reported).status, 200);
    } finally {
      await holder.query('ROLLBACK').catch(() => {});
      await holder.end();
    }
    assert.equal((await graphOperation(server, deviceId, operationId)).status, 'successful');
    const configuration = await graphDevice<{ softwareVersions: { teamsClientSoftwareVersion?: string } }>(server, deviceId, 'configuration');
    assert.equal(configuration.softwareVersions.teamsClientSoftwareVersion, '1.0.96.77');
  });

  test('failed with {code, message} → the Graph error is exactly that', async () => {
    const agent = await enrollAgent(server);
    const deviceId = agent.deviceId!;
    const operationId = await requestOperation(server, deviceId, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: '1.0.96.99' });
    await agent.ackOk(operationId);
    const error = { code: 'downloadFailed', message: 'The package could not be downloaded: HTTP 503 from the CDN.' };
    const reply = await agent.resultOk(operationId, { status: 'failed', error });
    assert.equal(reply.status, 'failed');
    const operation = await graphOperation(server, deviceId, operationId);
    assert.equal(operation.status, 'failed');
    assert.deepEqual(operation.error, error);
    assert.ok(isIsoDate(operation.completedDateTime));
  });
});

describe('replays and races', () => {
  test('a second result for a finished operation is a 409 and changes nothing', async () => {
    const agent = await enrollAgent(server);
    const deviceId = agent.deviceId!;
    const operationId = await requestOperation(server, deviceId, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: '1.0.96.60' });
    await agent.ackOk(operationId);
    await agent.resultOk(operationId, { status: 'successful', installed: { teamsClient: '1.0.96.60' } });
    const finished = await operationRow(server, operationId);
    const deviceBefore = await graphDevice<{ softwareVersions: Record<string, string | null> }>(server, deviceId, 'configuration');

    await expectGraphError(await agent.result(operationId, { status: 'successful', installed: { teamsClient: '1.0.96.60' } }), 409, 'conflict');
    await expectGraphError(await agent.result(operationId, { status: 'failed', error: { code: 'late', message: 'late failure' } }), 409, 'conflict');
    await expectGraphError(await agent.result(operationId, { status: 'successful', installed: { teamsClient: '0.0.0.1' } }), 409, 'conflict');
    await expectGraphError(await agent.progress(operationId, { percent: 5 }), 409, 'conflict');
    await expectGraphError(await agent.ack(operationId), 409, 'conflict');

    const after = await operationRow(server, operationId);
    assert.deepEqual(after, finished);
    assert.equal(after.status, 'successful');
    assert.ok(after.completed_at);
    // The replayed "installed" was not applied either.
    const deviceAfter = await graphDevice<{ softwareVersions: Record<string, string | null> }>(server, deviceId, 'configuration');
    assert.equal(deviceAfter.softwareVersions.teamsClientSoftwareVersion, '1.0.96.60');
    assert.deepEqual(deviceAfter.softwareVersions, deviceBefore.softwareVersions);
  });

  test('a second ack is a 409 and keeps the first startedDateTime', async () => {
    const agent = await enrollAgent(server);
    const operationId = await requestOperation(server, agent.deviceId!, 'runDiagnostics');
    const first = await agent.ackOk(operationId);
    const row = await operationRow(server, operationId);
    await expectGraphError(await agent.ack(operationId), 409, 'conflict');
    assert.deepEqual(await operationRow(server, operationId), row);
    assert.equal((await graphOperation(server, agent.deviceId!, operationId)).startedDateTime, first.startedDateTime);
  });

  test('concurrent acks: exactly one wins; concurrent results: exactly one wins', async () => {
    const agent = await enrollAgent(server);
    const operationId = await requestOperation(server, agent.deviceId!, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: '1.0.96.70' });
    const acks = await Promise.all(Array.from({ length: 8 }, () => agent.ack(operationId)));
    assert.deepEqual(acks.map((r) => r.status).sort(), [200, 409, 409, 409, 409, 409, 409, 409]);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        agent.result(operationId, i % 2
          ? { status: 'successful', installed: { teamsClient: '1.0.96.70' } }
          : { status: 'failed', error: { code: `attempt${i}`, message: 'racing' } }),
      ),
    );
    const statuses = results.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 200).length, 1, `statuses ${statuses}`);
    assert.equal(statuses.filter((s) => s === 409).length, 7, `statuses ${statuses}`);
    const winner = (await results[statuses.indexOf(200)].json()) as { operation: { status: string } };
    const operation = await graphOperation(server, agent.deviceId!, operationId);
    assert.equal(operation.status, winner.operation.status);
  });
});

describe('cancel', () => {
  test('a queued operation: 200 cancelled at once, and the device never receives it', async () => {
    const agent = await enrollAgent(server);
    const deviceId = agent.deviceId!;
    const body = { softwareType: 'teamsClient', softwareVersion: '1.0.96.80' };
    const operationId = await requestOperation(server, deviceId, 'updateSoftware', body);
    const response = await cancelOperation(server, deviceId, operationId);
    assert.equal(response.status, 200);
    const cancelled = (await response.json()) as { id: string; status: string; completedDateTime: string | null; startedDateTime: string | null };
    assert.equal(cancelled.id, operationId);
    assert.equal(cancelled.status, 'cancelled');
    assert.ok(isIsoDate(cancelled.completedDateTime));
    assert.equal(cancelled.startedDateTime, null);
    const operation = await graphOperation(server, deviceId, operationId);
    assert.equal(operation.status, 'cancelled');
    assert.equal(operation.lastActionBy?.device, null, 'the admin, not the device, cancelled it');

    assert.equal(await agent.nextWork(0), null, 'the device never receives it');
    await expectGraphError(await agent.ack(operationId), 409, 'conflict');
    assert.equal((await operationRow(server, operationId)).status, 'cancelled');
    // The slot is free again.
    await requestOperation(server, deviceId, 'updateSoftware', body);
  });

  test('a running operation: 202, progress says cancelRequested, the device confirms → cancelled', async () => {
    const agent = await enrollAgent(server);
    const deviceId = agent.deviceId!;
    const operationId = await requestOperation(server, deviceId, 'updateSoftware', { softwareType: 'firmware', softwareVersion: '122.15.0.50' });
    await agent.ackOk(operationId);
    const first = await agent.progress(operationId, { percent: 30, message: 'downloading' });
    assert.deepEqual(await first.json(), { cancelRequested: false });

    const response = await cancelOperation(server, deviceId, operationId);
    assert.equal(response.status, 202);
    const requested = (await response.json()) as { id: string; status: string; completedDateTime: string | null };
    assert.equal(requested.id, operationId);
    assert.equal(requested.status, 'inProgress');
    assert.equal(requested.completedDateTime, null);
    assert.equal((await graphOperation(server, deviceId, operationId)).status, 'inProgress', 'running until the device confirms');

    const progress = await agent.progress(operationId, { percent: 40, message: 'downloading' });
    assert.equal(progress.status, 200);
    assert.deepEqual(await progress.json(), { cancelRequested: true });
    // A device that polls sees it as well.
    const work = await agent.nextWork(0);
    assert.equal(work?.id, operationId);
    assert.equal(work?.cancelRequested, true);

    const reply = await agent.resultOk(operationId, { status: 'cancelled' });
    assert.equal(reply.status, 'cancelled');
    const operation = await graphOperation(server, deviceId, operationId);
    assert.equal(operation.status, 'cancelled');
    assert.ok(isIsoDate(operation.startedDateTime));
    assert.ok(isIsoDate(operation.completedDateTime));
    assert.equal(operation.error, null);
  });

  test('cancelling a finished operation is a 409 and changes nothing; an unknown one is a 404', async () => {
    const agent = await enrollAgent(server);
    const deviceId = agent.deviceId!;
    const operationId = await requestOperation(server, deviceId, 'restart');
    await agent.ackOk(operationId);
    await agent.resultOk(operationId, { status: 'successful' });
    const row = await operationRow(server, operationId);
    await expectGraphError(await cancelOperation(server, deviceId, operationId), 409, 'conflict');
    assert.deepEqual(await operationRow(server, operationId), row);

    const cancelled = await requestOperation(server, deviceId, 'runDiagnostics');
    assert.equal((await cancelOperation(server, deviceId, cancelled)).status, 200);
    await expectGraphError(await cancelOperation(server, deviceId, cancelled), 409, 'conflict');

    await expectGraphError(await cancelOperation(server, deviceId, '00000000-0000-4000-8000-000000000000'), 404, 'itemNotFound');
    const otherDevice = await enrollAgent(server);
    await expectGraphError(await cancelOperation(server, otherDevice.deviceId!, operationId), 404, 'itemNotFound');
  });

  test('reporting cancelled without a cancel request is a 400 and the operation keeps running', async () => {
    const agent = await enrollAgent(server);
    const deviceId = agent.deviceId!;
    const operationId = await requestOperation(server, deviceId, 'runDiagnostics');
    await agent.ackOk(operationId);
    const row = await operationRow(server, operationId);
    await expectGraphError(await agent.result(operationId, { status: 'cancelled' }), 400, 'invalidRequest');
    assert.deepEqual(await operationRow(server, operationId), row);
    assert.equal((await graphOperation(server, deviceId, operationId)).status, 'inProgress');
    await agent.resultOk(operationId, { status: 'successful', diagnostics: {} });
  });

  test('cancel needs TeamworkDevice.ReadWrite.All', async () => {
    const agent = await enrollAgent(server);
    const operationId = await requestOperation(server, agent.deviceId!, 'restart');
    const reader = await server.token({ scopes: ['TeamworkDevice.Read.All'] });
    const response = await server.request(`/beta/teamwork/devices/${agent.deviceId}/operations/${operationId}/cancel`, { method: 'POST', token: reader });
    await expectGraphError(response, 403, 'accessDenied');
    assert.equal((await operationRow(server, operationId)).status, 'queued');
  });
});
