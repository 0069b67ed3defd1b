import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { graphDevice, requestOperation } from '../helpers/graph-operations.js';
import { expectGraphError } from '../helpers/http-assertions.js';
import { TestAgent, enrollBody, enrollmentToken, uniqueHardware } from '../helpers/test-agent.js';
import { startTestServer, tenantA, tenantB, type TestServer } from '../helpers/test-server.js';

/**
 * POST /agent/v1/enroll over real HTTP: a device presents a tenant enrollment token and its
 * hardware, gets a device id and a credential, and shows up in Graph as reported.
 */

let server: TestServer;
let token: string;

before(async () => {
  server = await startTestServer();
  token = await enrollmentToken(server, tenantA, 3600);
});

after(async () => {
  await server?.stop();
});

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function deviceCount(tenantId = tenantA): Promise<number> {
  const [row] = await server.query<{ n: number | string }>('SELECT count(*) AS n FROM devices WHERE tenant_id = ?', [tenantId]);
  return Number(row.n);
}

describe('enrollment', () => {
  test('a new device: 201 with tenant, device id and credential; Graph shows its hardware and type', async () => {
    const agent = new TestAgent(server.url);
    const hardwareDetail = uniqueHardware({ manufacturer: 'yealink', model: 'MeetingBar A30' });
    const body = enrollBody(token, { deviceType: 'collaborationBar', hardwareDetail, displayName: 'Conf Room Rainier' });
    const response = await agent.enroll(body);
    const text = await response.text();
    assert.equal(response.status, 201, text);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    const enrolled = JSON.parse(text) as Record<string, unknown>;
    assert.deepEqual(Object.keys(enrolled).sort(), ['credential', 'deviceId', 'longPollSeconds', 'tenantId']);
    assert.equal(enrolled.tenantId, tenantA);
    assert.match(String(enrolled.deviceId), uuid);
    assert.equal(enrolled.longPollSeconds, 30);
    const credential = String(enrolled.credential);
    assert.match(credential, new RegExp(`^twd-device\\.${enrolled.deviceId}\\.[A-Za-z0-9_-]{43}$`));

    const device = await graphDevice<Record<string, unknown>>(server, String(enrolled.deviceId));
    assert.equal(device.id, enrolled.deviceId);
    assert.equal(device.deviceType, 'collaborationBar');
    assert.deepEqual(device.hardwareDetail, hardwareDetail);
    assert.equal((device.currentUser as { displayName: string }).displayName, 'Conf Room Rainier');

    // What it runs is in the configuration and health documents.
    const configuration = await graphDevice<{ softwareVersions: Record<string, string | null> }>(server, String(enrolled.deviceId), 'configuration');
    assert.equal(configuration.softwareVersions.teamsClientSoftwareVersion, '1.0.96.1');
    assert.equal(configuration.softwareVersions.firmwareSoftwareVersion, '122.15.0.40');
    const health = await graphDevice<{ connection: { connectionStatus: string } }>(server, String(enrolled.deviceId), 'health');
    assert.equal(health.connection.connectionStatus, 'connected');

    // Only the hash of the secret is kept.
    const secret = credential.split('.').pop()!;
    const [row] = await server.query<{ credential_hash: string }>('SELECT credential_hash FROM devices WHERE id = ?', [enrolled.deviceId]);
    assert.ok(row.credential_hash, 'a credential hash is stored');
    assert.ok(!row.credential_hash.includes(secret), 'the secret itself is not stored');

    // The credential works at once.
    agent.credential = credential;
    const poll = await agent.poll(0);
    assert.equal(poll.status, 204, await poll.text());
  });

  test('re-enrolling with the device\'s credential: 200, same device id, a new credential; the old one is 401 at once', async () => {
    const agent = new TestAgent(server.url);
    const hardwareDetail = uniqueHardware();
    const first = await agent.enrollOk(enrollBody(token, { hardwareDetail }), 201);
    const queued = await requestOperation(server, first.deviceId, 'restart');

    // Same uniqueId, a different serial number and newer software: still the same device.
    const again = new TestAgent(server.url);
    const second = await again.enrollOk(
      enrollBody(token, {
        hardwareDetail: { ...hardwareDetail, serialNumber: 'SN-replaced-board' },
        installed: { teamsClient: '1.0.96.2' },
      }),
      200,
      first.credential,
    );
    assert.equal(second.deviceId, first.deviceId);
    assert.equal(second.tenantId, tenantA);
    assert.notEqual(second.credential, first.credential);
    const [{ n }] = await server.query<{ n: number | string }>('SELECT count(*) AS n FROM devices WHERE hw_unique_id = ?', [hardwareDetail.uniqueId]);
    assert.equal(Number(n), 1);

    await expectGraphError(await agent.poll(0, { credential: first.credential }), 401, 'unauthenticated');
    // The device keeps its operations: the new credential receives the restart queued before.
    const work = await again.nextWork(0);
    assert.equal(work?.id, queued);

    const configuration = await graphDevice<{ softwareVersions: Record<string, string | null> }>(server, first.deviceId, 'configuration');
    assert.equal(configuration.softwareVersions.teamsClientSoftwareVersion, '1.0.96.2');
  });

  test('a credential needs no enrollment token; a wrong credential is a 401, not a fallback to the token', async () => {
    const agent = new TestAgent(server.url);
    const first = await agent.enrollOk(enrollBody(token), 201);
    const { enrollmentToken: _none, ...withoutToken } = enrollBody(token, { hardwareDetail: (await graphDevice<{ hardwareDetail: Record<string, unknown> }>(server, first.deviceId)).hardwareDetail });
    const again = await new TestAgent(server.url).enrollOk(withoutToken as typeof withoutToken & { enrollmentToken: string }, 200, first.credential);
    assert.equal(again.deviceId, first.deviceId);
    const forged = `twd-device.${first.deviceId}.${'A'.repeat(43)}`;
    await expectGraphError(await new TestAgent(server.url).enroll(enrollBody(token), {}, forged), 401, 'unauthenticated');
  });

  test('re-enrolling hardware without a uniqueId by the same serial number (same model) keeps the device', async () => {
    const hardwareDetail = uniqueHardware({ uniqueId: null });
    const first = await new TestAgent(server.url).enrollOk(enrollBody(token, { hardwareDetail }), 201);
    const second = await new TestAgent(server.url).enrollOk(enrollBody(token, { hardwareDetail }), 200, first.credential);
    assert.equal(second.deviceId, first.deviceId);
  });

  test('concurrent first enrollments of the same hardware make one device; the others are refused with 409', async () => {
    const hardwareDetail = uniqueHardware();
    const responses = await Promise.all(
      Array.from({ length: 6 }, () => new TestAgent(server.url).enroll(enrollBody(token, { hardwareDetail }))),
    );
    const statuses = responses.map((r) => r.status).sort();
    assert.deepEqual(statuses, [201, 409, 409, 409, 409, 409]);
    for (const r of responses.filter((r) => r.status === 409)) await expectGraphError(r, 409, 'conflict');
    const [{ n }] = await server.query<{ n: number | string }>('SELECT count(*) AS n FROM devices WHERE hw_unique_id = ?', [hardwareDetail.uniqueId]);
    assert.equal(Number(n), 1, 'one device row for the hardware');
  });

  test('the same hardware enrolled with another tenant\'s token is another tenant\'s device', async () => {
    const hardwareDetail = uniqueHardware();
    const inA = await new TestAgent(server.url).enrollOk(enrollBody(token, { hardwareDetail }), 201);
    const tokenB = await enrollmentToken(server, tenantB);
    const inB = await new TestAgent(server.url).enrollOk(enrollBody(tokenB, { hardwareDetail }), 201);
    assert.equal(inB.tenantId, tenantB);
    assert.notEqual(inB.deviceId, inA.deviceId);
    // Tenant A's admin does not see tenant B's device.
    await expectGraphError(await server.request(`/beta/teamwork/devices/${inB.deviceId}`), 404, 'itemNotFound');
  });

  test('an unknown or expired enrollment token is a 401 with a Graph error, and nothing is created', async () => {
    const before = await deviceCount();
    const agent = new TestAgent(server.url);
    await expectGraphError(await agent.enroll(enrollBody('twd-enroll.not-a-real-token')), 401, 'unauthenticated');
    const expired = await enrollmentToken(server, tenantA, -60);
    await expectGraphError(await agent.enroll(enrollBody(expired)), 401, 'unauthenticated');
    // A device credential is not an enrollment token either.
    const enrolled = await new TestAgent(server.url).enrollOk(enrollBody(token), 201);
    await expectGraphError(await agent.enroll(enrollBody(enrolled.credential)), 401, 'unauthenticated');
    // No token and no credential.
    await expectGraphError(await agent.enroll({ ...enrollBody(token), enrollmentToken: undefined }), 401, 'unauthenticated');
    assert.equal(await deviceCount(), before + 1);
  });

  test('bad bodies are a 400 with a Graph error body, and nothing is created', async () => {
    const before = await deviceCount();
    const agent = new TestAgent(server.url);
    const good = enrollBody(token);
    const bad: [string, unknown][] = [
      ['not JSON', '{"enrollmentToken": '],
      ['an array', [good]],
      ['a string', '"hello"'],
      ['a numeric enrollmentToken', { ...good, enrollmentToken: 42 }],
      ['an unknown deviceType', { ...good, deviceType: 'toaster' }],
      ['no deviceType', { ...good, deviceType: undefined }],
      ['no hardwareDetail', { ...good, hardwareDetail: undefined }],
      ['hardware without uniqueId or serialNumber', { ...good, hardwareDetail: { manufacturer: 'yealink', model: 'a30' } }],
      ['a non-string uniqueId', { ...good, hardwareDetail: { uniqueId: 7 } }],
      ['a malformed MAC address', { ...good, hardwareDetail: { uniqueId: 'u-bad-mac', macAddresses: ['not-a-mac'] } }],
      ['an unknown hardwareDetail property', { ...good, hardwareDetail: { uniqueId: 'u-extra', colour: 'red' } }],
      ['an unknown property', { ...good, firmwareChannel: 'beta' }],
      ['an unknown software type in installed', { ...good, installed: { toasterFirmware: '1.0' } }],
      ['a non-string version in installed', { ...good, installed: { teamsClient: 5 } }],
      ['installed as a list', { ...good, installed: ['1.0'] }],
    ];
    for (const [what, body] of bad) {
      const response = await agent.enroll(body);
      const error = await expectGraphError(response, 400, 'invalidRequest').catch((e: Error) => {
        throw new Error(`${what}: ${e.message}`);
      });
      assert.ok(error.message.length > 0, what);
    }
    assert.equal(await deviceCount(), before);
  });
});
