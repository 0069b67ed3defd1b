import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createPostgresDatabase, queryDatabase, testStore } from '../helpers/test-database.js';
import { killAllReplicas, runCli, startReplica, type Replica } from '../helpers/replica-process.js';
import { enrollBody } from '../helpers/test-agent.js';

/**
 * Several replicas on one PostgreSQL, as real processes started with the real CLI. PostgreSQL
 * only, and never skipped: if PostgreSQL is unreachable, the before() hooks fail and so does
 * every test here.
 */

const tenant = '66666666-6666-4666-8666-666666666666';
const teamsClientVersion = '1.0.96.2024061103';
const body = JSON.stringify({ softwareType: 'teamsClient', softwareVersion: teamsClientVersion });

interface Operation {
  id: string;
  status: string;
  error: { code: string; message: string } | null;
  createdDateTime: string;
  lastActionDateTime: string;
  completedDateTime: string | null;
}

const databases: { drop(): Promise<void> }[] = [];

after(async () => {
  await killAllReplicas();
  for (const database of databases) await database.drop();
});

async function newDatabase(): Promise<string> {
  const database = await createPostgresDatabase();
  databases.push(database);
  return database.url;
}

/** Offers a teamsClient version to every device of the tenant, with the real CLI. */
async function offer(db: string, version: string): Promise<void> {
  await runCli(['catalog', 'add', '--db', db, '--tenant', tenant, '--software-type', 'teamsClient', '--version', version]);
}

async function replica(name: string, db: string, extra: string[] = []): Promise<Replica> {
  return startReplica(name, ['--db', db, '--log-level', 'warn', ...extra]);
}

function graph(replica: Replica, token: string, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  if (init.body !== undefined) headers.set('content-type', 'application/json');
  return fetch(replica.url + path, { ...init, headers });
}

async function operationVia(replica: Replica, token: string, location: string): Promise<Operation> {
  const response = await graph(replica, token, location);
  const text = await response.text();
  assert.equal(response.status, 200, `GET ${location} on ${replica.name}: ${response.status} ${text}`);
  // @odata.context names the replica that answered; the rest must be identical everywhere
  const { '@odata.context': _context, ...operation } = JSON.parse(text) as Operation & { '@odata.context': string };
  return operation;
}

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Replicas share one PostgreSQL; `npm test` runs these in its PostgreSQL pass. */
const onlyOnPostgres = testStore !== 'postgres' && 'replicas share PostgreSQL: run in the PostgreSQL pass';

describe('replicas on one PostgreSQL', { timeout: 120_000, skip: onlyOnPostgres }, () => {
  let db: string;
  let token: string;
  let enrollmentToken: string;
  let deviceIds: string[];
  let a: Replica;
  let b: Replica;

  before(async () => {
    db = await newDatabase();
    await runCli(['seed', '--db', db, '--tenant', tenant, '--devices', '400']);
    await offer(db, teamsClientVersion);
    token = (await runCli(['token', '--db', db, '--tenant', tenant])).trim();
    enrollmentToken = (await runCli(['enrollment-token', 'create', '--db', db, '--tenant', tenant])).trim();
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.match(enrollmentToken, /^twd-enroll\./);
    [a, b] = await Promise.all([replica('A', db), replica('B', db)]);
    deviceIds = (await queryDatabase<{ id: string }>(db, 'SELECT id FROM devices WHERE tenant_id = ? ORDER BY id', [tenant])).map((r) => r.id);
    assert.equal(deviceIds.length, 400);
  });

  test('100 simultaneous updateSoftware requests split across both replicas: one 202, 99 × 409, one row', async () => {
    const deviceId = deviceIds[0];
    const responses = await Promise.all(Array.from({ length: 100 }, (_, i) =>
      graph(i % 2 ? b : a, token, `/beta/teamwork/devices/${deviceId}/updateSoftware`, { method: 'POST', body })));
    const statuses = responses.map((r) => r.status);
    const accepted = responses.filter((r) => r.status === 202);
    assert.equal(accepted.length, 1, `statuses: ${JSON.stringify(statuses)}`);
    assert.equal(statuses.filter((s) => s === 409).length, 99, `statuses: ${JSON.stringify(statuses)}`);
    for (const response of responses) {
      const text = await response.text();
      if (response.status === 409) assert.equal(JSON.parse(text).error.code, 'conflict', text);
      else assert.equal(text, '');
    }
    const location = accepted[0].headers.get('location');
    assert.match(location ?? '', new RegExp(`^/teamwork/devices/${deviceId}/operations/[0-9a-f-]{36}$`));
    const rows = await queryDatabase<{ id: string; status: string }>(db, 'SELECT id, status FROM operations WHERE device_id = ?', [deviceId]);
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(location, `/teamwork/devices/${deviceId}/operations/${rows[0].id}`);
    // and both replicas read the same operation
    assert.deepEqual(await operationVia(a, token, location!), await operationVia(b, token, location!));
  });

  test('a version added to the catalog while both run is offered at once by both: no replica keeps a stale catalog', async () => {
    const [deviceId] = deviceIds.slice(-1);
    const update = (replica: Replica) =>
      graph(replica, token, `/beta/teamwork/devices/${deviceId}/updateSoftware`, { method: 'POST', body: JSON.stringify({ softwareType: 'teamsClient', softwareVersion: '1.0.96.2099010101' }) });
    for (const replica of [a, b]) {
      const refused = await update(replica);
      const text = await refused.text();
      assert.equal(refused.status, 404, `${replica.name}: ${text}`);
      assert.match((JSON.parse(text) as { error: { message: string } }).error.message, /1\.0\.96\.2099010101/);
    }
    await offer(db, '1.0.96.2099010101');
    const accepted = await update(b);
    assert.equal(accepted.status, 202, await accepted.text());
    const conflict = await update(a);
    assert.equal(conflict.status, 409, `A sees the version too (the pending one decides): ${await conflict.text()}`);
  });

  test('an operation accepted by A wakes a long-poll on B at once and is executed through B', async (t) => {
    const enroll = await fetch(`${b.url}/agent/v1/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(enrollBody(enrollmentToken, { installed: { teamsClient: '1.0.96.2023120401' }, displayName: 'Conf Room Replica' })),
    });
    const enrolledText = await enroll.text();
    assert.equal(enroll.status, 201, enrolledText);
    const { deviceId, credential } = JSON.parse(enrolledText) as { deviceId: string; credential: string };
    const agent = (method: string, path: string, json?: unknown) => fetch(b.url + path, {
      method,
      headers: { authorization: `Bearer ${credential}`, ...(json === undefined ? {} : { 'content-type': 'application/json' }) },
      body: json === undefined ? undefined : JSON.stringify(json),
    });

    // The long-poll on B starts first and is still waiting when A accepts the operation.
    let answeredAt = 0;
    const poll = agent('GET', '/agent/v1/work?waitSeconds=20').then(async (response) => {
      answeredAt = Date.now();
      return { status: response.status, text: await response.text() };
    });
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(answeredAt, 0, 'the poll must still be waiting before the operation exists');

    const postedAt = Date.now();
    const accepted = await graph(a, token, `/beta/teamwork/devices/${deviceId}/updateSoftware`, { method: 'POST', body });
    assert.equal(accepted.status, 202, await accepted.text());
    const location = accepted.headers.get('location')!;
    const operationId = location.split('/').pop()!;

    const work = await poll;
    const latency = answeredAt - postedAt;
    assert.equal(work.status, 200, work.text);
    assert.ok(latency < 2000, `the poll on B answered ${latency} ms after the POST on A`);
    const item = (JSON.parse(work.text) as { operation: { id: string; softwareVersion: string; status: string } }).operation;
    assert.equal(item.id, operationId);
    assert.equal(item.softwareVersion, '1.0.96.2024061103');

    assert.equal((await operationVia(b, token, location)).status, 'queued', 'B reads what A accepted');
    const ack = await agent('POST', `/agent/v1/operations/${operationId}/ack`);
    assert.equal(ack.status, 200, await ack.text());
    assert.equal((await operationVia(a, token, location)).status, 'inProgress');
    const progress = await agent('POST', `/agent/v1/operations/${operationId}/progress`, { percent: 50, message: 'installing' });
    assert.equal(progress.status, 200, await progress.text());
    const result = await agent('POST', `/agent/v1/operations/${operationId}/result`, {
      status: 'successful', installed: { teamsClient: '1.0.96.2024061103' },
    });
    assert.equal(result.status, 200, await result.text());

    const done = await operationVia(a, token, location);
    assert.equal(done.status, 'successful', JSON.stringify(done));
    assert.equal(done.error, null);
    assert.ok(done.completedDateTime);
    assert.deepEqual(await operationVia(b, token, location), done);
    t.diagnostic(`long-poll on B answered ${latency} ms after the POST on A`);
  });

  test("a device re-enrolled or rotated through A is let in by B at once, though B had its old credential cached", async () => {
    const enrollVia = (replica: Replica, hardwareDetail: Record<string, unknown> | undefined, credential?: string) => fetch(`${replica.url}/agent/v1/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(credential ? { authorization: `Bearer ${credential}` } : {}) },
      body: JSON.stringify(enrollBody(enrollmentToken, hardwareDetail ? { hardwareDetail } : {})),
    });
    const pollVia = (replica: Replica, credential: string) =>
      fetch(`${replica.url}/agent/v1/work?waitSeconds=0`, { headers: { authorization: `Bearer ${credential}` } }).then((r) => r.status);
    const first = await enrollVia(b, undefined);
    assert.equal(first.status, 201);
    const { deviceId, credential } = (await first.json()) as { deviceId: string; credential: string };
    assert.equal(await pollVia(b, credential), 204, 'B caches the credential');
    // B's copy is now over a second old.
    await new Promise((r) => setTimeout(r, 1100));

    const reset = await graph(a, token, `/beta/teamwork/devices/${deviceId}/revokeCredential`, { method: 'POST' });
    assert.equal(reset.status, 204, await reset.text());
    const [{ hw_unique_id: uniqueId, hw_serial_number: serialNumber }] = await queryDatabase<{ hw_unique_id: string; hw_serial_number: string }>(
      db, 'SELECT hw_unique_id, hw_serial_number FROM devices WHERE id = ?', [deviceId]);
    const again = await enrollVia(a, { uniqueId, serialNumber, manufacturer: 'yealink', model: 'a30' });
    assert.equal(again.status, 200, await again.clone().text());
    const renewed = ((await again.json()) as { credential: string }).credential;
    assert.equal(await pollVia(b, renewed), 204, 'the new credential works on B at once');

    await new Promise((r) => setTimeout(r, 1100));
    const rotated = await fetch(`${a.url}/agent/v1/credential`, { method: 'POST', headers: { authorization: `Bearer ${renewed}` } });
    assert.equal(rotated.status, 200);
    const next = ((await rotated.json()) as { credential: string }).credential;
    assert.equal(await pollVia(b, next), 204, 'the rotated credential works on B at once');
  });

  test('killing a replica mid-load loses nothing it accepted', async (t) => {
    const targets = deviceIds.slice(1);
    const accepted: { deviceId: string; location: string }[] = [];
    let refused = 0;
    let other = 0;
    let next = 0;
    let killed: Promise<void> | null = null;
    const killAfter = 80;
    const worker = async () => {
      while (next < targets.length) {
        const deviceId = targets[next++];
        try {
          const response = await graph(a, token, `/beta/teamwork/devices/${deviceId}/updateSoftware`, { method: 'POST', body });
          await response.arrayBuffer();
          if (response.status === 202) {
            accepted.push({ deviceId, location: response.headers.get('location')! });
            if (accepted.length === killAfter && !killed) killed = a.kill('SIGKILL');
          } else {
            other++;
          }
        } catch {
          refused++; // no answer: in flight when A died, or sent after
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    assert.ok(killed, `A was never killed (${accepted.length} accepted, ${other} other, ${refused} without answer)`);
    await killed;
    assert.equal(a.child.signalCode, 'SIGKILL');
    assert.equal(other, 0, 'every answer before the kill was a 202');
    assert.ok(accepted.length >= killAfter, `${accepted.length} accepted`);
    assert.ok(refused > 0, 'the kill happened mid-load: some requests got no answer');
    assert.ok(accepted.length < targets.length, 'not everything was accepted before the kill');

    // Every operation A answered 202 for is in the database and queued, as B sees it.
    for (const { deviceId, location } of accepted) {
      assert.match(location, new RegExp(`^/teamwork/devices/${deviceId}/operations/`));
      const operation = await operationVia(b, token, location);
      assert.equal(operation.status, 'queued', `${location}: ${JSON.stringify(operation)}`);
    }
    const rows = await queryDatabase<{ n: string }>(db,
      "SELECT count(*) AS n FROM operations WHERE tenant_id = ? AND device_id <> ? AND status = 'queued' AND software_type = 'teamsClient'", [tenant, deviceIds[0]]);
    assert.ok(Number(rows[0].n) >= accepted.length, `${rows[0].n} rows for ${accepted.length} accepted`);
    // B keeps serving after A's death
    const list = await graph(b, token, '/beta/teamwork/devices?$top=5');
    assert.equal(list.status, 200);
    t.diagnostic(`killed A after ${accepted.length} accepted; ${refused} requests got no answer; ${rows[0].n} queued rows`);
  });
});

describe('supervisor on several replicas', { timeout: 120_000, skip: onlyOnPostgres }, () => {
  test('a queued operation nobody starts fails deviceUnreachable once', async () => {
    const db = await newDatabase();
    await runCli(['seed', '--db', db, '--tenant', tenant, '--devices', '3']);
    await offer(db, teamsClientVersion);
    const token = (await runCli(['token', '--db', db, '--tenant', tenant])).trim();
    // info: each replica logs 'operation expired' for every operation it fails
    const [c, d] = await Promise.all([
      startReplica('C', ['--db', db, '--log-level', 'info', '--start-timeout', '1s']),
      startReplica('D', ['--db', db, '--log-level', 'info', '--start-timeout', '1s']),
    ]);
    const [{ id: deviceId }] = await queryDatabase<{ id: string }>(db, 'SELECT id FROM devices ORDER BY id LIMIT 1');
    const response = await graph(c, token, `/beta/teamwork/devices/${deviceId}/updateSoftware`, { method: 'POST', body });
    assert.equal(response.status, 202, await response.text());
    const location = response.headers.get('location')!;
    const operationId = location.split('/').pop()!;

    const failed = await until('the operation to fail', async () => {
      const operation = await operationVia(d, token, location);
      return operation.status === 'failed' ? operation : null;
    }, 15_000);
    assert.equal(failed.error?.code, 'deviceUnreachable');
    assert.ok(failed.completedDateTime);
    assert.equal(failed.lastActionDateTime, failed.completedDateTime);
    const failedAfterMs = Date.parse(failed.completedDateTime!) - Date.parse(failed.createdDateTime);
    assert.ok(failedAfterMs >= 1000, `failed ${failedAfterMs} ms after creation, before its 1 s deadline`);

    // Several more supervisor ticks on both replicas change nothing.
    await new Promise((r) => setTimeout(r, 3000));
    assert.deepEqual(await operationVia(c, token, location), failed);
    const rows = await queryDatabase<{ status: string; completed_at: Date }>(db, 'SELECT status, completed_at FROM operations WHERE device_id = ?', [deviceId]);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].completed_at.toISOString(), failed.completedDateTime);
    const expiredLines = [c, d].flatMap((replica) =>
      replica.output().split('\n').filter((line) => line.includes('operation expired') && line.includes(operationId)).map((line) => `${replica.name}: ${line}`));
    assert.equal(expiredLines.length, 1, `expired once, by one replica:\n${expiredLines.join('\n')}`);
  });
});
