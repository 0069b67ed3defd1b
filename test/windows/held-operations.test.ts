import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { graphOperation, postAction, requestOperation } from '../helpers/graph-operations.js';
import { expectGraphError, operationRows } from '../helpers/http-assertions.js';
import { enrollAgent, uniqueHardware, type TestAgent } from '../helpers/test-agent.js';
import { TestClock } from '../helpers/test-clock.js';
import { postJson, startTestServer, type TestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Operations held by maintenance windows: created `scheduled` outside a window, released to
 * the device when it opens (the test moves the clock; nothing sleeps for a window), handed
 * over at once inside one, held again when the window closed before the device asked, decided
 * again when a window changes, read in the device's own time zone, and still released after a
 * restart.
 */

const clock = new TestClock();
let server: TestServer;

before(async () => {
  // Hours pass in jumps here: devices must not be declared silent meanwhile.
  server = await startTestServer({ clock, config: { schedulerIntervalMs: 100, heartbeatTimeoutMs: 30 * 24 * 3600_000 } });
});

after(async () => {
  await server?.stop();
});

/** Monday 2026-06-01, in UTC. */
const monday = (time: string) => Date.parse(`2026-06-01T${time}Z`);
const update = { softwareType: 'teamsClient', softwareVersion: '1.0.96.22' };

async function createWindow(target: unknown, schedule: Record<string, unknown>): Promise<string> {
  const response = await postJson(server, '/beta/teamwork/maintenanceWindows', {
    displayName: 'test window', target, schedule: { daysOfWeek: ['monday'], startTime: '12:00', durationMinutes: 60, timeZone: 'Etc/UTC', ...schedule },
  });
  const text = await response.text();
  assert.equal(response.status, 201, text);
  return JSON.parse(text).id;
}

/** The operation as Graph shows it, with the extension property. */
async function operation(agent: TestAgent, id: string) {
  return (await graphOperation(server, agent.deviceId!, id)) as Awaited<ReturnType<typeof graphOperation>> & { scheduledDateTime?: string };
}

async function waitForStatus(agent: TestAgent, id: string, status: string) {
  return waitFor(`operation ${id} to be ${status}`, async () => {
    const op = await operation(agent, id);
    return op.status === status ? op : null;
  }, { timeoutMs: 5000 });
}

describe('operations held by maintenance windows', () => {
  test('outside its window: scheduled with scheduledDateTime and not handed over; at the opening: queued and handed to the waiting device', async () => {
    clock.set(monday('10:00:00'));
    const hardware = uniqueHardware();
    const agent = await enrollAgent(server, { hardwareDetail: hardware });
    await createWindow({ filter: `hardwareDetail/uniqueId eq '${hardware.uniqueId}'` }, {});

    const id = await requestOperation(server, agent.deviceId!, 'updateSoftware', update);
    const held = await operation(agent, id);
    assert.equal(held.status, 'scheduled');
    assert.equal(held.scheduledDateTime, '2026-06-01T12:00:00.000Z');
    assert.equal(held.startedDateTime, null);
    const [row] = await operationRows(server, 'id = ?', id);
    assert.equal(row.status, 'scheduled');
    // The start deadline counts from the opening, not from now.
    assert.ok(new Date(row.start_deadline as string).getTime() >= monday('12:00:00') + 23 * 3600_000, String(row.start_deadline));
    // The 409 rule covers scheduled operations.
    await expectGraphError(await postAction(server, agent.deviceId!, 'updateSoftware', update), 409, 'conflict');

    assert.equal(await agent.nextWork(0), null, 'a scheduled operation is not handed over');
    const poll = agent.nextWork(20);
    const pollStarted = Date.now();
    await waitFor('the poll to wait', async () => server.engine.devicesWaiting > 0);
    clock.advance(2 * 3600_000 + 1000);
    const work = await poll;
    assert.equal(work?.id, id, 'the waiting device gets it when the window opens');
    assert.ok(Date.now() - pollStarted < 10_000, 'woken, not timed out');
    assert.equal((await operation(agent, id)).status, 'queued');
    await agent.ackOk(id);
    assert.equal((await operation(agent, id)).status, 'inProgress');
    await agent.resultOk(id, { status: 'successful', installed: { teamsClient: '1.0.96.22' } });
    assert.equal((await operation(agent, id)).status, 'successful');
  });

  test('inside an open window: queued at once and handed over; a device no window covers is never held', async () => {
    clock.set(monday('12:30:00'));
    const agent = await enrollAgent(server);
    const free = await enrollAgent(server);
    await createWindow({ deviceIds: [agent.deviceId] }, {});
    const id = await requestOperation(server, agent.deviceId!, 'restart');
    const op = await operation(agent, id);
    assert.equal(op.status, 'queued');
    assert.equal(op.scheduledDateTime, undefined, 'no extension property on an operation never held');
    assert.equal((await agent.nextWork(0))?.id, id);

    clock.set(monday('20:00:00'));
    const freeId = await requestOperation(server, free.deviceId!, 'runDiagnostics');
    assert.equal((await operation(free, freeId)).status, 'queued');
    assert.equal((await free.nextWork(0))?.id, freeId);
  });

  test('released while open, not picked up before it closed: scheduled again for the next opening', async () => {
    clock.set(monday('12:10:00'));
    const agent = await enrollAgent(server);
    await createWindow({ deviceIds: [agent.deviceId] }, {});
    const id = await requestOperation(server, agent.deviceId!, 'runDiagnostics');
    assert.equal((await operation(agent, id)).status, 'queued');

    clock.set(monday('13:30:00'));
    assert.equal(await agent.nextWork(0), null, 'not handed over after the window closed');
    const again = await operation(agent, id);
    assert.equal(again.status, 'scheduled');
    assert.equal(again.scheduledDateTime, '2026-06-08T12:00:00.000Z');
    const [row] = await operationRows(server, 'id = ?', id);
    assert.ok(new Date(row.start_deadline as string).getTime() >= Date.parse('2026-06-08T12:00:00Z'), 'the deadline moved with it');

    clock.set(Date.parse('2026-06-08T12:00:05Z'));
    await waitForStatus(agent, id, 'queued');
    assert.equal((await agent.nextWork(0))?.id, id);
  });

  test('a changed window decides its held operations again', async () => {
    clock.set(monday('14:00:00'));
    const agent = await enrollAgent(server);
    const windowId = await createWindow({ deviceIds: [agent.deviceId] }, {});
    const id = await requestOperation(server, agent.deviceId!, 'restart');
    assert.equal((await operation(agent, id)).scheduledDateTime, '2026-06-08T12:00:00.000Z');

    // Now open until 15:30.
    const patched = await server.request(`/beta/teamwork/maintenanceWindows/${windowId}`, {
      method: 'PATCH', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ schedule: { daysOfWeek: ['monday'], startTime: '13:30', durationMinutes: 120, timeZone: 'Etc/UTC' } }),
    });
    assert.equal(patched.status, 200, await patched.text());
    await waitForStatus(agent, id, 'queued');
    assert.equal((await agent.nextWork(0))?.id, id);
  });

  test("a device's own time zone replaces the window's", async () => {
    // Monday 00:30Z is 09:30 in Tokyo and 02:30 in Berlin; the window opens 09:00 for an hour.
    clock.set(monday('00:30:00'));
    const tokyo = await enrollAgent(server);
    const berlin = await enrollAgent(server);
    await server.store.updateDevice(tokyo.tenantId!, tokyo.deviceId!, (device) => ({ ...device, configuration: { ...device.configuration, timeZone: 'Asia/Tokyo' } }));
    await createWindow({ deviceIds: [tokyo.deviceId, berlin.deviceId] }, { startTime: '09:00', timeZone: 'Europe/Berlin' });

    const inTokyo = await requestOperation(server, tokyo.deviceId!, 'restart');
    assert.equal((await operation(tokyo, inTokyo)).status, 'queued');
    assert.equal((await tokyo.nextWork(0))?.id, inTokyo);
    const inBerlin = await requestOperation(server, berlin.deviceId!, 'restart');
    const held = await operation(berlin, inBerlin);
    assert.equal(held.status, 'scheduled');
    assert.equal(held.scheduledDateTime, '2026-06-01T07:00:00.000Z');
  });

  test('a scheduled operation is still released after a restart', async () => {
    clock.set(monday('10:00:00'));
    const agent = await enrollAgent(server);
    await createWindow({ deviceIds: [agent.deviceId] }, { startTime: '11:00' });
    const id = await requestOperation(server, agent.deviceId!, 'runDiagnostics');
    assert.equal((await operation(agent, id)).status, 'scheduled');

    await server.restart();
    assert.equal((await operation(agent, id)).status, 'scheduled', 'still held after the restart');
    clock.set(monday('11:00:01'));
    await waitForStatus(agent, id, 'queued');
    assert.equal((await agent.nextWork(0))?.id, id);
  });
});
