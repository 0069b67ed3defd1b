import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { operationRow, postAction, requestOperation } from '../helpers/graph-operations.js';
import { expectGraphError } from '../helpers/http-assertions.js';
import { enrollAgent, type TestAgent } from '../helpers/test-agent.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/**
 * Credentials stay in their lane: device credentials reach only the agent API and only
 * their own device's operations; admin tokens cannot call the agent API.
 */

let server: TestServer;
let deviceA: TestAgent;
let deviceB: TestAgent;

before(async () => {
  server = await startTestServer();
  deviceA = await enrollAgent(server);
  deviceB = await enrollAgent(server);
});

after(async () => {
  await server?.stop();
});

describe('device credentials on Graph routes', () => {
  test('are a 401 on every Graph route, including the device\'s own', async () => {
    const credential = deviceA.credential!;
    const id = deviceA.deviceId!;
    const requests: [string, RequestInit][] = [
      ['/beta/teamwork/devices', {}],
      [`/beta/teamwork/devices/${id}`, {}],
      [`/teamwork/devices/${id}/health`, {}],
      [`/beta/teamwork/devices/${id}/operations`, {}],
      [`/beta/teamwork/devices/${id}/restart`, { method: 'POST' }],
      [`/beta/teamwork/devices/${id}/updateSoftware`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ softwareType: 'teamsClient', softwareVersion: '9.9.9' }),
      }],
    ];
    for (const [path, init] of requests) {
      const response = await server.request(path, { ...init, token: credential });
      await expectGraphError(response, 401, 'unauthenticated').catch((e: Error) => {
        throw new Error(`${init.method ?? 'GET'} ${path}: ${e.message}`);
      });
    }
    const [{ n }] = await server.query<{ n: number | string }>('SELECT count(*) AS n FROM operations WHERE device_id = ?', [id]);
    assert.equal(Number(n), 0, 'no operation was created with a device credential');
  });
});

describe('admin tokens and garbage on the agent API', () => {
  test('an admin JWT is a 401 on work, ack, progress, result and inventory', async () => {
    const admin = await server.token();
    const operationId = await requestOperation(server, deviceA.deviceId!, 'runDiagnostics');
    const calls = [
      () => deviceA.poll(0, { credential: admin }),
      () => deviceA.ack(operationId, { credential: admin }),
      () => deviceA.progress(operationId, { percent: 10 }, { credential: admin }),
      () => deviceA.result(operationId, { status: 'successful' }, { credential: admin }),
      () => deviceA.inventory({ activityState: 'busy' }, { credential: admin }),
    ];
    for (const call of calls) {
      const response = await call();
      await expectGraphError(response, 401, 'unauthenticated');
      assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer /);
    }
    const row = await operationRow(server, operationId);
    assert.equal(row.status, 'queued');
    assert.equal(row.started_at, null);
  });

  test('garbage, missing, and wrong-secret credentials are a 401', async () => {
    const id = deviceA.deviceId!;
    const secretOfB = deviceB.credential!.split('.').pop()!;
    const bad: (string | null)[] = [
      null,
      'garbage',
      'twd-device.garbage',
      `twd-device.${id}.${randomBytes(32).toString('base64url')}`,
      // device A's id with device B's (valid) secret
      `twd-device.${id}.${secretOfB}`,
      // an unknown device id with a well-formed secret
      `twd-device.${randomUUID()}.${randomBytes(32).toString('base64url')}`,
      `${deviceA.credential}x`,
    ];
    for (const credential of bad) {
      await expectGraphError(await deviceA.poll(0, { credential }), 401, 'unauthenticated').catch((e: Error) => {
        throw new Error(`credential ${credential}: ${e.message}`);
      });
    }
    const basic = await fetch(`${server.url}/agent/v1/work?waitSeconds=0`, {
      headers: { authorization: `Basic ${Buffer.from(`${id}:${secretOfB}`).toString('base64')}` },
    });
    await expectGraphError(basic, 401, 'unauthenticated');
    await expectGraphError(await deviceA.inventory({ activityState: 'busy' }, { credential: 'garbage' }), 401, 'unauthenticated');
  });
});

describe('another device\'s operations', () => {
  test('acking, reporting progress or a result on device B\'s operation is a 404 and B\'s operation is unchanged', async () => {
    // B has one queued operation (A tries to ack it) and one running (A tries to report on it).
    const running = await requestOperation(server, deviceB.deviceId!, 'restart');
    const queued = await requestOperation(server, deviceB.deviceId!, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: '1.0.96.50' });
    assert.equal((await deviceB.nextWork(0))?.id, running);
    await deviceB.ackOk(running);
    await deviceB.progress(running, { percent: 20, message: 'rebooting' });

    const before = {
      queued: await operationRow(server, queued),
      running: await operationRow(server, running),
    };
    await expectGraphError(await deviceA.ack(queued), 404, 'itemNotFound');
    await expectGraphError(await deviceA.ack(running), 404, 'itemNotFound');
    await expectGraphError(await deviceA.progress(running, { percent: 99, message: 'mine now' }), 404, 'itemNotFound');
    await expectGraphError(await deviceA.result(running, { status: 'failed', error: { code: 'hijacked', message: 'by A' } }), 404, 'itemNotFound');
    await expectGraphError(await deviceA.result(queued, { status: 'successful', installed: { teamsClient: '1.0.96.50' } }), 404, 'itemNotFound');
    // An unknown operation id is the same 404.
    await expectGraphError(await deviceA.ack(randomUUID()), 404, 'itemNotFound');

    assert.deepEqual(await operationRow(server, queued), before.queued);
    assert.deepEqual(await operationRow(server, running), before.running);
    assert.equal(before.running.status, 'inProgress');
    assert.equal(before.running.progress_percent, 20);

    // A never receives B's work; B still gets its own running operation.
    const aWork = await deviceA.nextWork(0);
    assert.ok(aWork === null || (aWork.id !== running && aWork.id !== queued), `device A was handed ${JSON.stringify(aWork)}`);
    const bWork = await deviceB.nextWork(0);
    assert.equal(bWork?.id, running);
  });

  test('a device never polls another device\'s work', async () => {
    const agent = await enrollAgent(server);
    const other = await enrollAgent(server);
    const operationId = await requestOperation(server, other.deviceId!, 'runDiagnostics');
    assert.equal(await agent.nextWork(0), null);
    assert.equal((await other.nextWork(0))?.id, operationId);
    // And a device's credential cannot act on its own device through Graph either.
    await expectGraphError(await postAction(server, other.deviceId!, 'restart', undefined, other.credential!), 401, 'unauthenticated');
  });
});
