import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { requestOperation } from '../helpers/graph-operations.js';
import { deviceIds, expectGraphError } from '../helpers/http-assertions.js';
import { postJson, startTestServer, tenantB, type TestServer } from '../helpers/test-server.js';

/**
 * GET /teamwork/auditEvents?$filter=activity eq '…' (the console's audit log filter), over real
 * HTTP on the store TWD_TEST_STORE names: every page against the database, the 400s, tenants.
 */

let server: TestServer;
let tokenB: string;

before(async () => {
  server = await startTestServer({ devicesA: 5, devicesB: 1 });
  const devices = await deviceIds(server, 5);
  for (const deviceId of devices) await requestOperation(server, deviceId, 'restart');
  for (let i = 0; i < 3; i++) assert.equal((await postJson(server, '/beta/teamwork/enrollmentTokens', { description: `token ${i}` })).status, 201);
  tokenB = await server.token({ tenantId: tenantB });
  assert.equal((await postJson(server, '/beta/teamwork/enrollmentTokens', { description: 'of B' }, { token: tokenB })).status, 201);
});

after(async () => {
  await server?.stop();
});

async function allPages(path: string, token?: string): Promise<{ id: string; activity: string }[]> {
  const events = [];
  let url: string | undefined = path;
  while (url) {
    const response = await server.request(url, { token });
    const text = await response.text();
    assert.equal(response.status, 200, text);
    const page = JSON.parse(text) as { value: { id: string; activity: string }[]; '@odata.nextLink'?: string };
    events.push(...page.value);
    url = page['@odata.nextLink'];
  }
  return events;
}

test("every page of an activity's events holds exactly the database's, newest first, and only the tenant's", async () => {
  for (const activity of ['operationCreated', 'enrollmentTokenCreated', 'rolloutStarted']) {
    const rows = await server.query<{ seq: number | string }>('SELECT seq FROM audit_events WHERE tenant_id <> ? AND activity = ? ORDER BY seq DESC', [tenantB, activity]);
    const listed = await allPages(`/beta/teamwork/auditEvents?$top=2&$filter=${encodeURIComponent(`activity eq '${activity}'`)}`);
    assert.deepEqual(listed.map((event) => Number(event.id)), rows.map((row) => Number(row.seq)), activity);
    assert.ok(listed.every((event) => event.activity === activity));
  }
  assert.equal((await allPages("/beta/teamwork/auditEvents?$filter=activity eq 'operationCreated'")).length, 5);
  const ofB = await allPages("/beta/teamwork/auditEvents?$filter=activity eq 'enrollmentTokenCreated'", tokenB);
  assert.equal(ofB.length, 1, "tenant B sees its one token, not A's three");
});

test('any other $filter is a 400 naming what is supported, and a $skiptoken belongs to its filter', async () => {
  for (const filter of ["activity eq 'coffeeMade'", "result eq 'failure'", "activity ne 'operationCreated'", "activity eq 'operationCreated' or activity eq 'deviceRemoved'", 'activity eq']) {
    const error = await expectGraphError(await server.request(`/beta/teamwork/auditEvents?$filter=${encodeURIComponent(filter)}`), 400, 'invalidRequest');
    assert.match(error.message, /activity eq|Invalid \$filter/, filter);
  }
  const first = await (await server.request("/beta/teamwork/auditEvents?$top=1&$filter=activity eq 'operationCreated'")).json() as { '@odata.nextLink': string };
  const token = new URL(first['@odata.nextLink']).searchParams.get('$skiptoken');
  await expectGraphError(await server.request(`/beta/teamwork/auditEvents?$top=1&$skiptoken=${token}`), 400, 'invalidRequest');
});
