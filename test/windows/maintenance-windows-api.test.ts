import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { expectGraphError, isIsoDate } from '../helpers/http-assertions.js';
import { postJson, startTestServer, tenantB, type TestServer } from '../helpers/test-server.js';

/**
 * /teamwork/maintenanceWindows over real HTTP and a real database: create, read, list with
 * paging, change, delete; validation naming the field; tenants and permissions.
 */

let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server?.stop();
});

const validBody = {
  displayName: 'Weeknights',
  target: { filter: "deviceType eq 'teamsRoom' and startswith(hardwareDetail/model, 'MTR')" },
  schedule: { daysOfWeek: ['monday', 'tuesday'], startTime: '22:00', durationMinutes: 180, timeZone: 'Europe/Berlin' },
};

type Window = { id: string; displayName: string; target: unknown; schedule: unknown; createdDateTime: string; lastModifiedDateTime: string; createdBy: unknown };

async function createWindow(body: unknown = validBody, token?: string): Promise<Window> {
  const response = await postJson(server, '/beta/teamwork/maintenanceWindows', body, { token });
  const text = await response.text();
  assert.equal(response.status, 201, text);
  return JSON.parse(text) as Window;
}

function patch(id: string, body: unknown, token?: string): Promise<Response> {
  return server.request(`/beta/teamwork/maintenanceWindows/${id}`, {
    method: 'PATCH', token, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
}

describe('maintenance windows API', () => {
  test('POST → 201 with the entity, @odata.context and Location; GET returns it with and without /beta', async () => {
    const response = await postJson(server, '/beta/teamwork/maintenanceWindows', validBody);
    const created = JSON.parse(await response.text());
    assert.equal(response.status, 201);
    assert.match(created['@odata.context'], /\/beta\/\$metadata#teamwork\/maintenanceWindows\/\$entity$/);
    assert.equal(response.headers.get('location'), `/teamwork/maintenanceWindows/${created.id}`);
    assert.match(created.id, /^[0-9a-f-]{36}$/);
    assert.equal(created.displayName, 'Weeknights');
    assert.deepEqual(created.target, validBody.target);
    assert.deepEqual(created.schedule, validBody.schedule);
    assert.ok(isIsoDate(created.createdDateTime));
    assert.equal(created.lastModifiedDateTime, created.createdDateTime);
    assert.ok(created.createdBy?.user, `createdBy names the user: ${JSON.stringify(created.createdBy)}`);

    for (const prefix of ['/beta', '']) {
      const got = await server.request(`${prefix}/teamwork/maintenanceWindows/${created.id}`);
      const body = JSON.parse(await got.text());
      assert.equal(got.status, 200);
      assert.equal(body.id, created.id);
      assert.deepEqual({ ...body, '@odata.context': undefined }, { ...created, '@odata.context': undefined });
    }
    const selected = await server.request(`/beta/teamwork/maintenanceWindows/${created.id}?$select=displayName`);
    const body = JSON.parse(await selected.text());
    assert.deepEqual(Object.keys(body).filter((k) => !k.startsWith('@odata')), ['displayName']);

    const row = (await server.query('SELECT * FROM maintenance_windows WHERE id = ?', [created.id]))[0];
    assert.equal(row.display_name, 'Weeknights');
    assert.ok(row.target_filter, 'the parsed filter is kept');
  });

  test('deviceIds targets (deduplicated); the list pages newest first with $top and $skiptoken', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await createWindow({ ...validBody, displayName: `page ${i}`, target: { deviceIds: ['d1', 'd2', 'd1'] } })).id);
    }
    const first = await server.request('/beta/teamwork/maintenanceWindows?$top=2');
    const page = JSON.parse(await first.text());
    assert.equal(first.status, 200);
    assert.match(page['@odata.context'], /#teamwork\/maintenanceWindows$/);
    assert.deepEqual(page.value.map((w: Window) => w.id), [ids[4], ids[3]]);
    assert.deepEqual(page.value[0].target, { deviceIds: ['d1', 'd2'] });
    const seen = [...page.value.map((w: Window) => w.id)];
    let next: string | undefined = page['@odata.nextLink'];
    while (next) {
      const more = JSON.parse(await (await server.request(next)).text());
      seen.push(...more.value.map((w: Window) => w.id));
      next = more['@odata.nextLink'];
    }
    for (const id of ids) assert.ok(seen.includes(id));
    assert.equal(new Set(seen).size, seen.length, 'no window on two pages');
    await expectGraphError(await server.request('/beta/teamwork/maintenanceWindows?$top=0'), 400, 'invalidRequest');
    await expectGraphError(await server.request('/beta/teamwork/maintenanceWindows?$skiptoken=nope'), 400, 'invalidRequest');
    await expectGraphError(await server.request('/beta/teamwork/maintenanceWindows?$filter=displayName eq \'x\''), 400, 'invalidRequest');
  });

  test('PATCH changes what it names; DELETE → 204, then 404', async () => {
    const created = await createWindow();
    const response = await patch(created.id, { displayName: 'Renamed', target: { deviceIds: ['x'] } });
    const changed = JSON.parse(await response.text());
    assert.equal(response.status, 200);
    assert.equal(changed.displayName, 'Renamed');
    assert.deepEqual(changed.target, { deviceIds: ['x'] });
    assert.deepEqual(changed.schedule, validBody.schedule);
    assert.equal(changed.createdDateTime, created.createdDateTime);
    assert.ok(changed.lastModifiedDateTime >= created.lastModifiedDateTime);
    const row = (await server.query('SELECT target_filter FROM maintenance_windows WHERE id = ?', [created.id]))[0];
    assert.equal(row.target_filter, null, 'a deviceIds target keeps no filter');

    const back = await patch(created.id, { target: { filter: "deviceType eq 'ipPhone'" } });
    assert.equal(back.status, 200, await back.text());
    await expectGraphError(await patch(created.id, { schedule: { ...validBody.schedule, durationMinutes: 10 } }), 400, 'invalidRequest');
    await expectGraphError(await patch(created.id, { id: 'other' }), 400, 'invalidRequest');

    const deleted = await server.request(`/beta/teamwork/maintenanceWindows/${created.id}`, { method: 'DELETE' });
    assert.equal(deleted.status, 204);
    await expectGraphError(await server.request(`/beta/teamwork/maintenanceWindows/${created.id}`), 404, 'itemNotFound');
    await expectGraphError(await server.request(`/beta/teamwork/maintenanceWindows/${created.id}`, { method: 'DELETE' }), 404, 'itemNotFound');
    await expectGraphError(await patch(created.id, { displayName: 'gone' }), 404, 'itemNotFound');
  });

  test('invalid bodies are 400s naming the field; nothing is stored', async () => {
    const before = (await server.query('SELECT count(*) AS n FROM maintenance_windows'))[0].n;
    const cases: [unknown, string][] = [
      [{ ...validBody, target: { filter: "nosuch eq 'x'" } }, 'target.filter'],
      [{ ...validBody, target: { filter: "deviceType eq 'teamsRoom' and" } }, 'target.filter'],
      [{ ...validBody, target: {} }, 'target'],
      [{ ...validBody, target: { deviceIds: [] } }, 'target.deviceIds'],
      [{ ...validBody, target: { deviceIds: Array.from({ length: 1001 }, (_, i) => `d${i}`) } }, 'target.deviceIds'],
      [{ ...validBody, schedule: { ...validBody.schedule, timeZone: 'Europe/Atlantis' } }, 'schedule.timeZone'],
      [{ ...validBody, schedule: { ...validBody.schedule, daysOfWeek: ['mon'] } }, 'schedule.daysOfWeek'],
      [{ ...validBody, schedule: { ...validBody.schedule, startTime: '7pm' } }, 'schedule.startTime'],
      [{ ...validBody, schedule: { ...validBody.schedule, durationMinutes: 1441 } }, 'schedule.durationMinutes'],
      [{ ...validBody, schedule: { ...validBody.schedule, durationMinutes: '60' } }, 'schedule.durationMinutes'],
      [{ ...validBody, displayName: 7 }, 'displayName'],
      [{ ...validBody, displayName: '' }, 'displayName'],
      [{ ...validBody, displayName: '   ' }, 'displayName'],
      [{ ...validBody, target: { filter: "deviceType eq 'teamsRoom'", deviceIds: ['a'] } }, 'target'],
      [{ ...validBody, schedule: { ...validBody.schedule, daysOfWeek: ['Monday'] } }, 'schedule.daysOfWeek'],
      [{ ...validBody, schedule: { ...validBody.schedule, daysOfWeek: [] } }, 'schedule.daysOfWeek'],
      [{ ...validBody, schedule: { ...validBody.schedule, startTime: '24:00' } }, 'schedule.startTime'],
      [{ ...validBody, schedule: { ...validBody.schedule, durationMinutes: 29 } }, 'schedule.durationMinutes'],
      [{ ...validBody, schedule: { ...validBody.schedule, timeZone: 7 } }, 'schedule.timeZone'],
      [{ ...validBody, color: 'blue' }, 'color'],
      [{ displayName: 'only a name' }, 'target'],
      ['[1]', 'JSON object'],
    ];
    for (const [body, field] of cases) {
      const error = await expectGraphError(await postJson(server, '/beta/teamwork/maintenanceWindows', body), 400, 'invalidRequest');
      assert.ok(error.message.includes(field), `${error.message} should name ${field}`);
    }
    const notJson = await server.request('/beta/teamwork/maintenanceWindows', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
    await expectGraphError(notJson, 415, 'unsupportedMediaType');
    assert.equal((await server.query('SELECT count(*) AS n FROM maintenance_windows'))[0].n, before);
  });

  test("another tenant's window is a 404; a read-only token reads but cannot write; no token is a 401", async () => {
    const created = await createWindow();
    const other = await server.token({ tenantId: tenantB });
    await expectGraphError(await server.request(`/beta/teamwork/maintenanceWindows/${created.id}`, { token: other }), 404, 'itemNotFound');
    await expectGraphError(await patch(created.id, { displayName: 'mine' }, other), 404, 'itemNotFound');
    await expectGraphError(await server.request(`/beta/teamwork/maintenanceWindows/${created.id}`, { method: 'DELETE', token: other }), 404, 'itemNotFound');
    const list = JSON.parse(await (await server.request('/beta/teamwork/maintenanceWindows?$top=50', { token: other })).text());
    assert.deepEqual(list.value, []);

    const reader = await server.token({ scopes: ['TeamworkDevice.Read.All'] });
    assert.equal((await server.request(`/beta/teamwork/maintenanceWindows/${created.id}`, { token: reader })).status, 200);
    await expectGraphError(await postJson(server, '/beta/teamwork/maintenanceWindows', validBody, { token: reader }), 403, 'accessDenied');
    await expectGraphError(await patch(created.id, { displayName: 'x' }, reader), 403, 'accessDenied');
    await expectGraphError(await server.request(`/beta/teamwork/maintenanceWindows/${created.id}`, { method: 'DELETE', token: reader }), 403, 'accessDenied');
    await expectGraphError(await server.request('/beta/teamwork/maintenanceWindows', { token: null }), 401, 'unauthenticated');
    await expectGraphError(await server.request('/beta/teamwork/maintenanceWindows', { method: 'PUT' }), 405, 'methodNotAllowed');
    const unchanged = JSON.parse(await (await server.request(`/beta/teamwork/maintenanceWindows/${created.id}`)).text());
    assert.equal(unchanged.displayName, validBody.displayName);
  });
});
