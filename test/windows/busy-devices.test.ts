import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { graphOperation, requestOperation } from '../helpers/graph-operations.js';
import { enrollAgent, type TestAgent } from '../helpers/test-agent.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * A device in a meeting (`activityState` busy) is not interrupted: the work poll does not hand
 * it a queued operation until it reports that it is idle, which wakes its waiting poll. Its
 * running operation is still returned. Busy past the start deadline: failed `deviceBusy`.
 */

async function report(agent: TestAgent, activityState: string): Promise<void> {
  const response = await agent.inventory({ activityState });
  assert.equal(response.status, 200, await response.text());
}

describe('busy devices', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server?.stop();
  });

  test('a busy device is not handed queued work; reporting idle wakes its poll with it; a running operation is still returned', async () => {
    const agent = await enrollAgent(server);
    await report(agent, 'busy');
    const id = await requestOperation(server, agent.deviceId!, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: '1.0.96.22' });
    assert.equal((await graphOperation(server, agent.deviceId!, id)).status, 'queued');
    assert.equal(await agent.nextWork(0), null, 'not interrupted in a meeting');
    const device = JSON.parse(await (await server.request(`/beta/teamwork/devices/${agent.deviceId}`)).text());
    assert.equal(device.activityState, 'busy');

    const waitingBefore = server.engine.devicesWaiting;
    const started = Date.now();
    const poll = agent.nextWork(20);
    await waitFor('the poll to wait', async () => server.engine.devicesWaiting > waitingBefore);
    await report(agent, 'busy'); // still in the meeting: nothing
    await report(agent, 'idle');
    const work = await poll;
    assert.equal(work?.id, id);
    assert.ok(Date.now() - started < 10_000, `handed over ${Date.now() - started} ms after the poll began: woken, not timed out`);

    await agent.ackOk(id);
    await report(agent, 'busy');
    const running = await agent.nextWork(0);
    assert.equal(running?.id, id, 'the running operation is still returned to a busy device');
    assert.equal(running?.status, 'inProgress');
  });

  test('a device that is not busy gets its work as before', async () => {
    const agent = await enrollAgent(server);
    await report(agent, 'idle');
    const id = await requestOperation(server, agent.deviceId!, 'restart');
    assert.equal((await agent.nextWork(0))?.id, id);
  });
});

describe('busy past the start deadline', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ config: { startTimeoutMs: 800 } });
  });
  after(async () => {
    await server?.stop();
  });

  test('failed deviceBusy, not deviceUnreachable', async () => {
    const busy = await enrollAgent(server);
    const away = await enrollAgent(server);
    await report(busy, 'busy');
    const busyId = await requestOperation(server, busy.deviceId!, 'runDiagnostics');
    const awayId = await requestOperation(server, away.deviceId!, 'runDiagnostics');
    const failed = await waitFor('both to fail', async () => {
      const ops = [await graphOperation(server, busy.deviceId!, busyId), await graphOperation(server, away.deviceId!, awayId)];
      return ops.every((op) => op.status === 'failed') ? ops : null;
    }, { timeoutMs: 6000, intervalMs: 100 });
    assert.equal(failed[0].error?.code, 'deviceBusy');
    assert.match(failed[0].error?.message ?? '', /busy/);
    assert.equal(failed[1].error?.code, 'deviceUnreachable');
    assert.equal(await busy.nextWork(0), null);
  });
});
