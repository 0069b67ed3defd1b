import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { graphDevice, requestOperation } from '../helpers/graph-operations.js';
import { expectGraphError } from '../helpers/http-assertions.js';
import { TestAgent, enrollAgent, enrollBody, enrollmentToken, uniqueHardware } from '../helpers/test-agent.js';
import { postJson, startTestServer, tenantA, tenantB, type TestServer } from '../helpers/test-server.js';
import { changeDatabase } from '../helpers/test-database.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * The device side as an attacker would try it, over real HTTP on this pass's store: taking
 * over an enrolled device by re-enrolling its hardware, single-use tokens raced, quotas, rate
 * limits, credential revocation, removal and rotation, and the audit log of all of it.
 */

let server: TestServer;
let token: string;

before(async () => {
  server = await startTestServer({ config: { enrollRateLimit: null } });
  token = await enrollmentToken(server);
});

after(async () => {
  await server?.stop();
});

interface AuditEventBody {
  activity: string;
  result: string;
  resultReason: string | null;
  initiatedBy: { type: string; id: string | null; ipAddress: string | null };
  targetResources: { type: string; id: string }[];
  occurrences: number;
}

async function auditEvents(on: TestServer = server, bearer?: string): Promise<AuditEventBody[]> {
  const response = await on.request('/beta/teamwork/auditEvents?$top=50', bearer ? { token: bearer } : {});
  assert.equal(response.status, 200, await response.clone().text());
  return ((await response.json()) as { value: AuditEventBody[] }).value;
}

async function credentialRow(deviceId: string): Promise<Record<string, unknown>> {
  const [row] = await server.query('SELECT credential_hash, hw_unique_id, hw_serial_number, hw_model, device_type, current_user_display_name FROM devices WHERE id = ?', [deviceId]);
  return row;
}

describe('re-enrollment cannot take a device over', () => {
  test("a victim's serial number with its model and no uniqueId, or its uniqueId: 409, and nothing about the victim changes", async () => {
    const victim = await enrollAgent(server, { hardwareDetail: uniqueHardware({ manufacturer: 'yealink', model: 'a30' }) });
    const pending = await requestOperation(server, victim.deviceId!, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: '1.0.96.22' });
    const hardware = (await graphDevice<{ hardwareDetail: { uniqueId: string; serialNumber: string } }>(server, victim.deviceId!)).hardwareDetail;
    const before = await credentialRow(victim.deviceId!);

    const attacks = [
      { hardwareDetail: { serialNumber: hardware.serialNumber, manufacturer: 'yealink', model: 'a30' } },
      { hardwareDetail: { uniqueId: hardware.uniqueId, serialNumber: 'SN-ATTACKER', manufacturer: 'yealink', model: 'a30' } },
    ];
    for (const attack of attacks) {
      const attacker = new TestAgent(server.url);
      const error = await expectGraphError(await attacker.enroll(enrollBody(token, { ...attack, displayName: 'pwned' })), 409, 'conflict');
      assert.match(error.message, /already enrolled/);
      assert.match(error.message, /credential|reset/);
    }
    assert.deepEqual(await credentialRow(victim.deviceId!), before, 'the victim row is unchanged');
    // The real device still gets in, and still gets its update.
    const work = await victim.nextWork(0);
    assert.equal(work?.id, pending);

    const refused = (await auditEvents()).filter((e) => e.activity === 'enrollmentRefused' && e.targetResources[0]?.id === victim.deviceId);
    assert.equal(refused.length, 2);
    assert.equal(refused[0].resultReason, 'hardwareEnrolled');
    assert.equal(refused[0].initiatedBy.type, 'enrollmentToken');
    assert.ok(refused[0].initiatedBy.ipAddress, 'the source address is recorded');
  });

  test("a victim's serial number with another uniqueId, or another model, is other hardware: a new device, never the victim's", async () => {
    const victim = await enrollAgent(server, { hardwareDetail: uniqueHardware({ manufacturer: 'poly', model: 'ccx 600' }) });
    const { serialNumber } = (await graphDevice<{ hardwareDetail: { serialNumber: string } }>(server, victim.deviceId!)).hardwareDetail;
    const sameSerial = [
      uniqueHardware({ serialNumber, manufacturer: 'poly', model: 'ccx 600' }),
      uniqueHardware({ uniqueId: null, serialNumber, manufacturer: 'poly', model: 'trio c60' }),
      uniqueHardware({ uniqueId: null, serialNumber, manufacturer: 'yealink', model: 'ccx 600' }),
    ];
    for (const hardwareDetail of sameSerial) {
      const other = await new TestAgent(server.url).enrollOk(enrollBody(token, { hardwareDetail }), 201);
      assert.notEqual(other.deviceId, victim.deviceId);
    }
    assert.equal((await victim.poll(0)).status, 204, "the victim's credential still works");
  });

  test('an admin reset (revokeCredential) lets the hardware enroll again with a token: same device, its operations kept', async () => {
    const device = await enrollAgent(server);
    const queued = await requestOperation(server, device.deviceId!, 'restart');
    const hardwareDetail = (await graphDevice<{ hardwareDetail: Record<string, unknown> }>(server, device.deviceId!)).hardwareDetail;

    // Another tenant's admin cannot reset it.
    const other = await server.token({ tenantId: tenantB });
    await expectGraphError(await postJson(server, `/beta/teamwork/devices/${device.deviceId}/revokeCredential`, {}, { token: other }), 404, 'itemNotFound');
    // Read.All is not enough.
    const reader = await server.token({ scopes: ['TeamworkDevice.Read.All'] });
    await expectGraphError(await postJson(server, `/beta/teamwork/devices/${device.deviceId}/revokeCredential`, {}, { token: reader }), 403, 'accessDenied');
    assert.equal((await device.poll(0)).status, 200, 'still its credential, and its restart');

    const reset = await postJson(server, `/beta/teamwork/devices/${device.deviceId}/revokeCredential`, {});
    assert.equal(reset.status, 204, await reset.text());
    await expectGraphError(await device.poll(0), 401, 'unauthenticated');
    // The old credential cannot re-enroll either.
    await expectGraphError(await new TestAgent(server.url).enroll(enrollBody(token, { hardwareDetail }), {}, device.credential), 401, 'unauthenticated');

    const back = await new TestAgent(server.url).enrollOk(enrollBody(token, { hardwareDetail }), 200);
    assert.equal(back.deviceId, device.deviceId);
    const agent = new TestAgent(server.url);
    agent.credential = back.credential;
    assert.equal((await agent.nextWork(0))?.id, queued);
    // One reset, one take-over.
    await expectGraphError(await new TestAgent(server.url).enroll(enrollBody(token, { hardwareDetail })), 409, 'conflict');

    const events = (await auditEvents()).filter((e) => e.targetResources[0]?.id === device.deviceId).map((e) => e.activity);
    assert.deepEqual(events.slice(0, 3), ['enrollmentRefused', 'deviceReenrolled', 'deviceCredentialRevoked']);
  });

  test('removing a device: 204, then 404 in Graph, its credential 401, its operations gone; another tenant cannot', async () => {
    const device = await enrollAgent(server);
    await requestOperation(server, device.deviceId!, 'restart');
    const other = await server.token({ tenantId: tenantB });
    await expectGraphError(await server.request(`/beta/teamwork/devices/${device.deviceId}`, { method: 'DELETE', token: other }), 404, 'itemNotFound');

    const removed = await server.request(`/teamwork/devices/${device.deviceId}`, { method: 'DELETE' });
    assert.equal(removed.status, 204, await removed.text());
    await expectGraphError(await server.request(`/beta/teamwork/devices/${device.deviceId}`), 404, 'itemNotFound');
    await expectGraphError(await device.poll(0), 401, 'unauthenticated');
    assert.deepEqual(await server.query('SELECT id FROM operations WHERE device_id = ?', [device.deviceId]), []);
    await expectGraphError(await server.request(`/beta/teamwork/devices/${device.deviceId}`, { method: 'DELETE' }), 404, 'itemNotFound');
    assert.ok((await auditEvents()).some((e) => e.activity === 'deviceRemoved' && e.targetResources[0]?.id === device.deviceId));
  });
});

describe('enrollment tokens', () => {
  test('20 concurrent enrollments on a one-use token: exactly one 201', async () => {
    const once = await enrollmentToken(server, tenantA, 3600, 1);
    const responses = await Promise.all(Array.from({ length: 20 }, () => new TestAgent(server.url).enroll(enrollBody(once))));
    const statuses = responses.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 201).length, 1, JSON.stringify(statuses));
    for (const r of responses.filter((r) => r.status !== 201)) await expectGraphError(r, 401, 'unauthenticated');
  });

  test('create with maxUses, list without secrets, revoke: a revoked token enrolls nothing; tenants see only their tokens', async () => {
    const created = await postJson(server, '/beta/teamwork/enrollmentTokens', { description: 'Building 7 rooms', maxUses: 2 });
    const text = await created.text();
    assert.equal(created.status, 201, text);
    const body = JSON.parse(text) as { id: string; token: string; maxUses: number; uses: number; expiresDateTime: string; revokedDateTime: null };
    assert.match(body.token, /^twd-enroll\./);
    assert.equal(body.maxUses, 2);
    assert.equal(body.uses, 0);
    assert.ok(Date.parse(body.expiresDateTime) > Date.now() + 6 * 86400_000, 'seven days by default');

    await new TestAgent(server.url).enrollOk(enrollBody(body.token), 201);
    const listed = await (await server.request('/beta/teamwork/enrollmentTokens')).text();
    const mine = (JSON.parse(listed) as { value: Record<string, unknown>[] }).value.find((t) => t.id === body.id)!;
    assert.equal(mine.uses, 1);
    assert.ok(!listed.includes(body.token.split('.')[1]), 'the list holds no token');
    assert.ok(!('tokenHash' in mine) && !('token' in mine));

    const otherTenant = await server.token({ tenantId: tenantB });
    const theirs = (await (await server.request('/beta/teamwork/enrollmentTokens', { token: otherTenant })).json()) as { value: { id: string }[] };
    assert.ok(!theirs.value.some((t) => t.id === body.id));
    await expectGraphError(await postJson(server, `/beta/teamwork/enrollmentTokens/${body.id}/revoke`, {}, { token: otherTenant }), 404, 'itemNotFound');

    const revoked = await postJson(server, `/beta/teamwork/enrollmentTokens/${body.id}/revoke`, {});
    assert.equal(revoked.status, 200);
    assert.ok((await revoked.json() as { revokedDateTime: string }).revokedDateTime);
    const error = await expectGraphError(await new TestAgent(server.url).enroll(enrollBody(body.token)), 401, 'unauthenticated');
    assert.match(error.message, /revoked/);

    for (const bad of [{ maxUses: 0 }, { maxUses: 1.5 }, { expiresDateTime: '2000-01-01T00:00:00Z' }, { description: 7 }, { colour: 'red' }]) {
      await expectGraphError(await postJson(server, '/beta/teamwork/enrollmentTokens', bad), 400, 'invalidRequest');
    }
    await expectGraphError(await postJson(server, '/beta/teamwork/enrollmentTokens', {}, { token: await server.token({ scopes: ['TeamworkDevice.Read.All'] }) }), 403, 'accessDenied');
  });

  test("an expired token, another tenant's token, a device credential as a token: 401; the token's tenant decides", async () => {
    const expired = await enrollmentToken(server, tenantA, -1);
    assert.match((await expectGraphError(await new TestAgent(server.url).enroll(enrollBody(expired)), 401, 'unauthenticated')).message, /expired/);
    const inB = await new TestAgent(server.url).enrollOk(enrollBody(await enrollmentToken(server, tenantB)), 201);
    assert.equal(inB.tenantId, tenantB);
    await expectGraphError(await server.request(`/beta/teamwork/devices/${inB.deviceId}`), 404, 'itemNotFound');
  });
});

describe('device credentials', () => {
  test('rotation: the new credential works at once, the presented one keeps working for the grace period, a replaced one does not', async () => {
    const device = await enrollAgent(server);
    const original = device.credential!;
    const rotated = await device.send('POST', '/agent/v1/credential');
    const { credential: next } = (await rotated.json()) as { credential: string };
    assert.equal(rotated.status, 200);
    assert.match(next, new RegExp(`^twd-device\\.${device.deviceId}\\.`));
    assert.notEqual(next, original);
    assert.equal((await device.poll(0, { credential: next })).status, 204);
    assert.equal((await device.poll(0, { credential: original })).status, 204, 'the old one, for a while');

    // The reply was lost: the device rotates again with the old one; the lost one stops working.
    const again = await device.send('POST', '/agent/v1/credential', undefined, { credential: original });
    const { credential: third } = (await again.json()) as { credential: string };
    assert.equal((await device.poll(0, { credential: third })).status, 204);
    await expectGraphError(await device.poll(0, { credential: next }), 401, 'unauthenticated');
    assert.ok((await auditEvents()).some((e) => e.activity === 'deviceCredentialRotated' && e.initiatedBy.id === device.deviceId));

    // Past its grace period the rotated-away credential is refused (the period is moved into
    // the past in the database before this replica has read the rotation back).
    const last = await device.send('POST', '/agent/v1/credential', undefined, { credential: third });
    const { credential: fourth } = (await last.json()) as { credential: string };
    await changeDatabase(server.dbPath, 'UPDATE devices SET previous_credential_until = ? WHERE id = ?', [new Date(Date.now() - 1000).toISOString(), device.deviceId]);
    await expectGraphError(await device.poll(0, { credential: third }), 401, 'unauthenticated');
    assert.equal((await device.poll(0, { credential: fourth })).status, 204);
  });

  test('a forged secret, a credential of a device of another tenant used on this one, a malformed one: 401', async () => {
    const device = await enrollAgent(server);
    const other = await enrollAgent(server, { enrollmentToken: await enrollmentToken(server, tenantB) });
    const forged = `twd-device.${device.deviceId}.${'x'.repeat(43)}`;
    await expectGraphError(await device.poll(0, { credential: forged }), 401, 'unauthenticated');
    // The other device's secret under this device's id.
    const swapped = `twd-device.${device.deviceId}.${other.credential!.split('.').pop()}`;
    await expectGraphError(await device.poll(0, { credential: swapped }), 401, 'unauthenticated');
    await expectGraphError(await device.poll(0, { credential: 'twd-device.nope' }), 401, 'unauthenticated');
  });
});

describe('limits', () => {
  test('a device quota: enrollment past it is a 403 and creates nothing; removing a device frees a place', async () => {
    const limited = await startTestServer({ config: { deviceQuota: 2, enrollRateLimit: null } });
    try {
      const quotaToken = await enrollmentToken(limited);
      const first = await enrollAgent(limited, { enrollmentToken: quotaToken });
      await enrollAgent(limited, { enrollmentToken: quotaToken });
      const error = await expectGraphError(await new TestAgent(limited.url).enroll(enrollBody(quotaToken)), 403, 'accessDenied');
      assert.match(error.message, /quota of 2/);
      const [{ n }] = await limited.query<{ n: number | string }>('SELECT count(*) AS n FROM devices');
      assert.equal(Number(n), 2);
      // Re-enrolling an enrolled device is not a new one.
      const hardwareDetail = (await graphDevice<{ hardwareDetail: Record<string, unknown> }>(limited, first.deviceId!)).hardwareDetail;
      await new TestAgent(limited.url).enrollOk(enrollBody(quotaToken, { hardwareDetail }), 200, first.credential);
      assert.equal((await limited.request(`/beta/teamwork/devices/${first.deviceId}`, { method: 'DELETE' })).status, 204);
      await new TestAgent(limited.url).enrollOk(enrollBody(quotaToken), 201);
    } finally {
      await limited.stop();
    }
  });

  test('enrollments per source address and requests per device are rate limited (429, Retry-After); a device holds at most two long-polls', async () => {
    const limited = await startTestServer({ config: { enrollRateLimit: 0.5, agentRateLimit: 2 } });
    try {
      const limitedToken = await enrollmentToken(limited);
      // Burst of 20 s worth (10), then 0.5/s.
      const responses = [];
      for (let i = 0; i < 14; i++) responses.push(await new TestAgent(limited.url).enroll(enrollBody(limitedToken)));
      assert.equal(responses.filter((r) => r.status === 201).length, 10, responses.map((r) => r.status).join(','));
      const throttled = responses.find((r) => r.status === 429)!;
      assert.ok(Number(throttled.headers.get('retry-after')) >= 1);
      await expectGraphError(throttled, 429, 'activityLimitReached');

      const agent = new TestAgent(limited.url);
      const enrolled = (await responses[0].json()) as { credential: string };
      agent.credential = enrolled.credential;
      // Burst of 5 s worth (10) per device.
      const statuses = [];
      for (let i = 0; i < 14; i++) statuses.push((await agent.inventory({ activityState: 'idle' })).status);
      assert.deepEqual(statuses.slice(0, 10), Array(10).fill(200));
      assert.ok(statuses.slice(10).includes(429), statuses.join(','));
    } finally {
      await limited.stop();
    }

    const device = await enrollAgent(server);
    // Three at once: whichever arrives third is refused at once, the other two are held.
    const started = Date.now();
    const polls = await Promise.all([0, 1, 2].map(async () => {
      const response = await device.poll(2);
      return { response, heldMs: Date.now() - started };
    }));
    const refused = polls.filter((p) => p.response.status === 429);
    assert.equal(refused.length, 1, polls.map((p) => p.response.status).join(','));
    await expectGraphError(refused[0].response, 429, 'activityLimitReached');
    assert.ok(refused[0].heldMs < 1500, `refused at once, not after ${refused[0].heldMs} ms`);
    for (const held of polls.filter((p) => p.response.status !== 429)) {
      assert.equal(held.response.status, 204);
      assert.ok(held.heldMs >= 1900, `held for the wait, not ${held.heldMs} ms`);
    }
    assert.equal((await device.poll(0)).status, 204, 'a poll is accepted again once the others ended');
  });
});

describe('the audit log', () => {
  test('operations created and cancelled, failed authentications counted per source; per tenant; never a secret', async () => {
    const device = await enrollAgent(server);
    const operation = await requestOperation(server, device.deviceId!, 'restart');
    const cancel = await postJson(server, `/beta/teamwork/devices/${device.deviceId}/operations/${operation}/cancel`, {});
    assert.equal(cancel.status, 200);
    const badToken = 'eyJhbGciOiJFUzI1NiJ9.eyJ0aWQiOiIxMTExMTExMS0xMTExLTQxMTEtODExMS0xMTExMTExMTExMTEifQ.c2lnbmF0dXJl';
    for (let i = 0; i < 3; i++) await expectGraphError(await server.request('/beta/teamwork/devices', { token: badToken }), 401, 'unauthenticated');
    await expectGraphError(await device.poll(0, { credential: `twd-device.${device.deviceId}.${'y'.repeat(43)}` }), 401, 'unauthenticated');

    const events = await auditEvents();
    const created = events.find((e) => e.activity === 'operationCreated' && e.targetResources[0]?.id === operation)!;
    assert.equal(created.initiatedBy.type, 'user');
    assert.ok(created.initiatedBy.ipAddress);
    assert.ok(events.some((e) => e.activity === 'operationCancelled' && e.targetResources[0]?.id === operation));
    // Failed device sign-ins are the tenant's (the device id names it); counted and written within seconds.
    const failed = await waitFor('the failed device sign-in in the audit log', async () =>
      (await auditEvents()).find((e) => e.activity === 'authenticationFailed' && e.initiatedBy.id === device.deviceId));
    assert.equal(failed.result, 'failure');
    // Failed admin tokens name no tenant (their claims are not trusted): only the operator's view has them.
    const rows = await waitFor('failed admin sign-ins in the database', async () => {
      const found = await server.query<{ occurrences: number | string; tenant_id: string | null }>(
        "SELECT occurrences, tenant_id FROM audit_events WHERE activity = 'authenticationFailed' AND actor_type = 'anonymous'");
      return found.reduce((n, r) => n + Number(r.occurrences), 0) >= 3 && found;
    });
    assert.ok(rows.every((r) => r.tenant_id === null));

    assert.deepEqual(await auditEvents(server, await server.token({ tenantId: tenantB })).then((e) => e.filter((x) => x.targetResources[0]?.id === device.deviceId)), []);
    const everything = JSON.stringify(await server.query('SELECT * FROM audit_events'));
    for (const secret of [token, device.credential!, device.credential!.split('.').pop()!, badToken]) {
      assert.ok(!everything.includes(secret), 'the audit log holds no secret');
    }
  });
});
