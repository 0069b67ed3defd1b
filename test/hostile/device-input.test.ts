import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { operationRow, requestOperation } from '../helpers/graph-operations.js';
import { expectGraphError } from '../helpers/http-assertions.js';
import { enrollAgent, enrollBody, enrollmentToken, TestAgent, uniqueHardware } from '../helpers/test-agent.js';
import { postJson, startTestServer, type TestServer } from '../helpers/test-server.js';

/**
 * JSON that parses but cannot be handled or stored, sent by a device (or an admin script):
 * nesting thousands of levels deep (it overflowed the stack of the row mapping, a 500) and
 * lone UTF-16 surrogates written as `\ud800` escapes (PostgreSQL refuses them, a 500 there;
 * SQLite stored text no client can read back). Both are a 400 at the body parser on every
 * route, nothing is stored, and the device keeps working.
 */

let server: TestServer;

before(async () => {
  server = await startTestServer({ devicesA: 1 });
});

after(async () => {
  await server?.stop();
});

/** `{"peripheralsHealth":{"a":{"a":…{}…}}}`, `levels` objects deep. */
function nestedInventory(levels: number): string {
  return `{"peripheralsHealth":${'{"a":'.repeat(levels - 2)}{}${'}'.repeat(levels - 2)}}`;
}

async function healthOf(deviceId: string): Promise<unknown> {
  const [row] = await server.query<{ health: unknown }>('SELECT health FROM devices WHERE id = ?', [deviceId]);
  return row.health;
}

describe('nesting depth', () => {
  test('an inventory nested 5,000 levels deep is a 400 naming the limit; the device keeps reporting and polling', async () => {
    const agent = await enrollAgent(server);
    const before = await healthOf(agent.deviceId!);
    const error = await expectGraphError(await agent.inventory(nestedInventory(5000)), 400, 'invalidRequest');
    assert.match(error.message, /nested more than 32 levels/);
    assert.deepEqual(await healthOf(agent.deviceId!), before, 'nothing was stored');
    assert.equal((await agent.inventory({ activityState: 'idle', peripheralsHealth: { roomCameraHealth: { connection: { connectionStatus: 'connected' } } } })).status, 200);
    assert.equal((await agent.poll(0)).status, 204);
  });

  test('32 levels are accepted, 33 are not', async () => {
    const agent = await enrollAgent(server);
    assert.equal((await agent.inventory(nestedInventory(32))).status, 200);
    await expectGraphError(await agent.inventory(nestedInventory(33)), 400, 'invalidRequest');
  });

  test('deep arrays in an admin action body are refused the same way', async () => {
    const [{ id }] = await server.query<{ id: string }>('SELECT id FROM devices ORDER BY id LIMIT 1');
    const body = `{"softwareType":"teamsClient","x":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    const error = await expectGraphError(await postJson(server, `/beta/teamwork/devices/${id}/updateSoftware`, body), 400, 'invalidRequest');
    assert.match(error.message, /nested/);
  });
});

describe('lone surrogates', () => {
  // Written into the JSON text as an escape: JSON.stringify would write a lone surrogate the same way.
  const lone = '\\ud800';

  test('in an inventory string or key: 400, nothing stored', async () => {
    const agent = await enrollAgent(server);
    const before = await healthOf(agent.deviceId!);
    for (const body of [
      `{"peripheralsHealth":{"roomCameraHealth":{"connection":{"connectionStatus":"${lone}"}}}}`,
      `{"hardwareHealth":{"${lone}x":1}}`,
      `{"loginStatus":{"notes":["ok","\\udfff${lone}"]}}`,
    ]) {
      const error = await expectGraphError(await agent.inventory(body), 400, 'invalidRequest');
      assert.match(error.message, /unpaired UTF-16 surrogate/);
    }
    assert.deepEqual(await healthOf(agent.deviceId!), before, 'nothing was stored');
    assert.equal((await agent.inventory({ activityState: 'idle' })).status, 200);
  });

  test('in an enrollment\'s displayName or hardware fields: 400, no device created', async () => {
    const token = await enrollmentToken(server);
    for (const field of ['displayName', 'serialNumber'] as const) {
      const hardware = uniqueHardware();
      const body = enrollBody(token, { hardwareDetail: hardware });
      const text = JSON.stringify(body).replace(
        field === 'displayName' ? `"${body.displayName}"` : `"${hardware.serialNumber}"`,
        field === 'displayName' ? `"Room ${lone}"` : `"SN-${lone}"`,
      );
      await expectGraphError(await new TestAgent(server.url).enroll(text), 400, 'invalidRequest');
      const rows = await server.query('SELECT id FROM devices WHERE hw_unique_id = ?', [hardware.uniqueId]);
      assert.equal(rows.length, 0, `${field}: a device was created`);
    }
  });

  test('a well-formed surrogate pair (an emoji) is text and is accepted', async () => {
    const agent = new TestAgent(server.url);
    await agent.enrollOk(enrollBody(await enrollmentToken(server), { displayName: 'Huddle \ud83d\ude00' }), 201);
    assert.equal((await agent.inventory({ loginStatus: { note: 'caf\u00e9 \ud83d\udc4d' } })).status, 200);
  });

  test('in a diagnostics result: 400, the operation stays inProgress and then finishes normally', async () => {
    const agent = await enrollAgent(server);
    const operationId = await requestOperation(server, agent.deviceId!, 'runDiagnostics');
    await agent.ackOk(operationId);
    const before = await operationRow(server, operationId);
    const body = `{"status":"successful","diagnostics":{"log":"disk ${lone} ok"}}`;
    await expectGraphError(await agent.result(operationId, body), 400, 'invalidRequest');
    assert.deepEqual(await operationRow(server, operationId), before, 'the operation changed');
    assert.equal((await agent.resultOk(operationId, { status: 'successful', diagnostics: { log: 'disk ok' } })).status, 'successful');
  });

  test('in an admin action body: 400, no operation queued', async () => {
    const [{ id }] = await server.query<{ id: string }>('SELECT id FROM devices ORDER BY id LIMIT 1');
    const count = async () => (await server.query('SELECT id FROM operations WHERE device_id = ?', [id])).length;
    const before = await count();
    const response = await postJson(server, `/beta/teamwork/devices/${id}/updateSoftware`, `{"softwareType":"teamsClient","softwareVersion":"1.0.${lone}"}`);
    await expectGraphError(response, 400, 'invalidRequest');
    assert.equal(await count(), before);
  });
});
