import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { cancelOperation, operationRow, requestOperation } from '../helpers/graph-operations.js';
import { expectGraphError } from '../helpers/http-assertions.js';
import { enrollAgent, enrollmentToken, type TestAgent } from '../helpers/test-agent.js';
import { startTestServer, tenantB, type TestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * The agent API against devices that lie, replay or come too late: forged credentials,
 * another tenant's device, replayed acks and results, results for operations that already
 * ended (finished, failed by the supervisor, cancelled). Each is refused and the operation's
 * row stays exactly as it was. (Another device of the same tenant and garbage credentials
 * are covered in test/agent/confinement.test.ts.)
 */

let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server?.stop();
});

const forgedSecret = () => randomBytes(32).toString('base64url');
const upgrade = { softwareType: 'teamsClient', softwareVersion: '1.0.96.77' };
const installed = { status: 'successful', installed: { teamsClient: '1.0.96.77' } };

/** Asserts that `call` is refused with `status`/`code` and that the operation's row did not change. */
async function refusedWithoutChange(operationId: string, call: () => Promise<Response>, status: number, code: string, what: string): Promise<void> {
  const before = await operationRow(server, operationId);
  await expectGraphError(await call(), status, code).catch((error: Error) => {
    throw new Error(`${what}: ${error.message}`);
  });
  assert.deepEqual(await operationRow(server, operationId), before, `${what}: the operation changed`);
}

describe('forged and foreign credentials', () => {
  test('a forged credential (right format, the device\'s own id, a random secret) is a 401 on ack, progress and result', async () => {
    const agent = await enrollAgent(server);
    const forged = `twd-device.${agent.deviceId}.${forgedSecret()}`;
    const operationId = await requestOperation(server, agent.deviceId!, 'updateSoftware', upgrade);
    // The real credential was just verified (and cached): the forged one must still fail.
    assert.equal((await agent.nextWork(0))?.id, operationId);
    await refusedWithoutChange(operationId, () => agent.ack(operationId, { credential: forged }), 401, 'unauthenticated', 'forged ack');
    await agent.ackOk(operationId);
    await refusedWithoutChange(operationId, () => agent.progress(operationId, { percent: 90 }, { credential: forged }), 401, 'unauthenticated', 'forged progress');
    await refusedWithoutChange(operationId, () => agent.result(operationId, installed, { credential: forged }), 401, 'unauthenticated', 'forged result');
    await refusedWithoutChange(
      operationId,
      () => agent.result(operationId, { status: 'failed', error: { code: 'x', message: 'y' } }, { credential: `${agent.credential!.slice(0, -1)}${agent.credential!.endsWith('A') ? 'B' : 'A'}` }),
      401, 'unauthenticated', 'result with one character of the secret changed',
    );
    // The device itself is not locked out by the attempts.
    const finished = await agent.resultOk(operationId, installed);
    assert.equal(finished.status, 'successful');
  });

  test('a device of another tenant gets a 404 on this tenant\'s operation, which stays as it was', async () => {
    const ours = await enrollAgent(server);
    const theirs = await enrollAgent(server, { enrollmentToken: await enrollmentToken(server, tenantB) });
    assert.equal(theirs.tenantId, tenantB);
    const queued = await requestOperation(server, ours.deviceId!, 'runDiagnostics');
    await refusedWithoutChange(queued, () => theirs.ack(queued), 404, 'itemNotFound', 'ack by another tenant\'s device');
    await ours.ackOk(queued);
    await refusedWithoutChange(queued, () => theirs.progress(queued, { percent: 10 }), 404, 'itemNotFound', 'progress by another tenant\'s device');
    await refusedWithoutChange(queued, () => theirs.result(queued, { status: 'successful', diagnostics: { planted: true } }), 404, 'itemNotFound', 'result by another tenant\'s device');
    assert.equal(await theirs.nextWork(0), null, 'no work leaks to the other tenant\'s device');
  });
});

describe('replays', () => {
  async function running(agent: TestAgent, body: unknown = upgrade): Promise<string> {
    const operationId = await requestOperation(server, agent.deviceId!, 'updateSoftware', body);
    await agent.ackOk(operationId);
    return operationId;
  }

  test('a replayed successful result is a 409 and changes nothing; nor does a different result after it', async () => {
    const agent = await enrollAgent(server);
    const operationId = await running(agent);
    assert.equal((await agent.resultOk(operationId, installed)).status, 'successful');
    const row = await operationRow(server, operationId);
    assert.equal(row.status, 'successful');
    assert.ok(row.completed_at);
    await refusedWithoutChange(operationId, () => agent.result(operationId, installed), 409, 'conflict', 'the same result again');
    await refusedWithoutChange(operationId, () => agent.result(operationId, { status: 'failed', error: { code: 'late', message: 'changed my mind' } }), 409, 'conflict', 'a failure after the success');
    await refusedWithoutChange(operationId, () => agent.progress(operationId, { percent: 5 }), 409, 'conflict', 'progress after the result');
    await refusedWithoutChange(operationId, () => agent.ack(operationId), 409, 'conflict', 'ack after the result');
  });

  test('a replayed failure is a 409 and keeps the first error and completion time', async () => {
    const agent = await enrollAgent(server);
    const operationId = await running(agent, { softwareType: 'firmware', softwareVersion: '122.15.0.99' });
    const failure = { status: 'failed', error: { code: 'downloadFailed', message: 'no space left' } };
    assert.equal((await agent.resultOk(operationId, failure)).status, 'failed');
    const row = await operationRow(server, operationId);
    assert.equal(row.error_code, 'downloadFailed');
    await refusedWithoutChange(operationId, () => agent.result(operationId, failure), 409, 'conflict', 'the same failure again');
    await refusedWithoutChange(operationId, () => agent.result(operationId, { status: 'successful', installed: { firmware: '122.15.0.99' } }), 409, 'conflict', 'a success after the failure');
  });

  test('a replayed ack is a 409 and keeps the first start time', async () => {
    const agent = await enrollAgent(server);
    const operationId = await running(agent);
    assert.ok((await operationRow(server, operationId)).started_at);
    await refusedWithoutChange(operationId, () => agent.ack(operationId), 409, 'conflict', 'a second ack');
  });

  test('ten results sent at once (a retry storm, successes and failures): exactly one is accepted', async () => {
    const agent = await enrollAgent(server);
    const operationId = await running(agent);
    const responses = await Promise.all(Array.from({ length: 10 }, (_, i) =>
      agent.result(operationId, i % 2 ? installed : { status: 'failed', error: { code: `attempt${i}`, message: 'raced' } })));
    const accepted = responses.filter((r) => r.status === 200);
    assert.equal(accepted.length, 1, responses.map((r) => r.status).join(' '));
    for (const response of responses.filter((r) => r.status !== 200)) await expectGraphError(response, 409, 'conflict');
    const winner = ((await accepted[0].json()) as { operation: { status: string } }).operation;
    const row = await operationRow(server, operationId);
    assert.equal(row.status, winner.status, 'the row holds the accepted result');
  });
});

describe('operations that already ended', () => {
  test('ack, progress and result of a cancelled operation are a 409; it stays cancelled', async () => {
    const agent = await enrollAgent(server);
    const operationId = await requestOperation(server, agent.deviceId!, 'restart');
    const cancelled = await cancelOperation(server, agent.deviceId!, operationId);
    assert.equal(cancelled.status, 200, await cancelled.text());
    assert.equal((await operationRow(server, operationId)).status, 'cancelled');
    await refusedWithoutChange(operationId, () => agent.ack(operationId), 409, 'conflict', 'ack of a cancelled operation');
    await refusedWithoutChange(operationId, () => agent.progress(operationId, { percent: 50 }), 409, 'conflict', 'progress of a cancelled operation');
    await refusedWithoutChange(operationId, () => agent.result(operationId, { status: 'successful' }), 409, 'conflict', 'result of a cancelled operation');
    assert.equal(await agent.nextWork(0), null, 'a cancelled operation is not handed out');
  });

  test('reporting "cancelled" without a cancel request is refused and the operation keeps running', async () => {
    const agent = await enrollAgent(server);
    const operationId = await requestOperation(server, agent.deviceId!, 'runDiagnostics');
    await agent.ackOk(operationId);
    await refusedWithoutChange(operationId, () => agent.result(operationId, { status: 'cancelled' }), 400, 'invalidRequest', 'an unrequested cancellation');
    assert.equal((await operationRow(server, operationId)).status, 'inProgress');
  });
});

describe('operations the supervisor failed', () => {
  let fast: TestServer;

  before(async () => {
    // Short deadlines: the supervisor (every second) fails what is not started or finished in time.
    fast = await startTestServer({ config: { startTimeoutMs: 1500, runTimeoutMs: 1500 } });
  });

  after(async () => {
    await fast?.stop();
  });

  async function failedBySupervisor(operationId: string, code: string): Promise<Record<string, unknown>> {
    return waitFor(`the supervisor to fail ${operationId} with ${code}`, async () => {
      const row = await operationRow(fast, operationId);
      return row.status === 'failed' && row.error_code === code ? row : null;
    }, { timeoutMs: 8000, intervalMs: 100 });
  }

  test('a result after the run deadline failed the operation is a 409; the timeout stands', { timeout: 20_000 }, async () => {
    const agent = await enrollAgent(fast);
    const operationId = await requestOperation(fast, agent.deviceId!, 'updateSoftware', upgrade);
    await agent.ackOk(operationId);
    const row = await failedBySupervisor(operationId, 'timeout');
    const late = await agent.result(operationId, installed);
    await expectGraphError(late, 409, 'conflict');
    await expectGraphError(await agent.progress(operationId, { percent: 99 }), 409, 'conflict');
    assert.deepEqual(await operationRow(fast, operationId), row, 'the late result changed the failed operation');
  });

  test('an ack after the start deadline failed the operation is a 409; it stays failed', { timeout: 20_000 }, async () => {
    const agent = await enrollAgent(fast);
    const operationId = await requestOperation(fast, agent.deviceId!, 'restart');
    const row = await failedBySupervisor(operationId, 'deviceUnreachable');
    await expectGraphError(await agent.ack(operationId), 409, 'conflict');
    await expectGraphError(await agent.result(operationId, { status: 'successful' }), 409, 'conflict');
    assert.deepEqual(await operationRow(fast, operationId), row, 'the late device changed the failed operation');
    assert.equal(await agent.nextWork(0), null, 'a failed operation is not handed out');
  });
});
