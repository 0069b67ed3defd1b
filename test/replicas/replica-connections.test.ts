import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { killAllReplicas, runCli, startReplica, type Replica } from '../helpers/replica-process.js';
import { adminUrl, createPostgresDatabase, testStore } from '../helpers/test-database.js';
import { enrollBody } from '../helpers/test-agent.js';

/**
 * What docs/deployment.md promises PostgreSQL's max_connections: each replica opens at most
 * its pool (`--pool-size`) plus two dedicated connections (LISTEN, the supervisor lease),
 * however hard it is pushed. Two real replicas, each named by `application_name` in its `--db`
 * URL, take a burst of reads, enrolments and updates far wider than their pools, while
 * pg_stat_activity is read every 20 ms.
 */

const tenant = '17a1c0de-3e9a-4b2c-8d1e-5f6a7b8c9d0e';
const poolSize = 3;
const onlyOnPostgres = testStore !== 'postgres' && 'replicas share PostgreSQL: run in the PostgreSQL pass';
const databases: { drop(): Promise<void> }[] = [];

after(async () => {
  await killAllReplicas();
  for (const database of databases) await database.drop();
});

interface Seen {
  pool: number;
  listen: number;
  lease: number;
  total: number;
}

/** The most connections of each kind each application_name held, read every 20 ms until stopped. */
async function sampleConnections(database: string, names: string[]): Promise<{ stop(): Promise<Map<string, Seen>> }> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  const most = new Map(names.map((name) => [name, { pool: 0, listen: 0, lease: 0, total: 0 }]));
  let running = true;
  const loop = (async () => {
    while (running) {
      const { rows } = await client.query<{ name: string; listen: number; lease: number; total: number }>(
        `SELECT application_name AS name,
           count(*) FILTER (WHERE query LIKE 'LISTEN %')::int AS listen,
           count(*) FILTER (WHERE query LIKE '%pg_try_advisory_lock(%')::int AS lease,
           count(*)::int AS total
         FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend' AND application_name = ANY($2::text[])
         GROUP BY application_name`,
        [database, names],
      );
      for (const row of rows) {
        const seen = most.get(row.name)!;
        seen.pool = Math.max(seen.pool, row.total - row.listen - row.lease);
        seen.listen = Math.max(seen.listen, row.listen);
        seen.lease = Math.max(seen.lease, row.lease);
        seen.total = Math.max(seen.total, row.total);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await client.end();
      return most;
    },
  };
}

describe('database connections of replicas under load', { timeout: 120_000, skip: onlyOnPostgres }, () => {
  test(`a burst far wider than the pool: each replica holds at most --pool-size ${poolSize} + LISTEN + lease`, async () => {
    const database = await createPostgresDatabase();
    databases.push(database);
    const db = database.url;
    await runCli(['seed', '--db', db, '--tenant', tenant, '--devices', '200']);
    await runCli(['catalog', 'add', '--db', db, '--tenant', tenant, '--software-type', 'teamsClient', '--version', '1.0.96.2024061103']);
    const token = (await runCli(['token', '--db', db, '--tenant', tenant])).trim();
    const enrollmentToken = (await runCli(['enrollment-token', 'create', '--db', db, '--tenant', tenant])).trim();
    const names = ['twd-test-replica-a', 'twd-test-replica-b'];
    const replicas: Replica[] = [];
    for (const name of names) {
      const url = new URL(db);
      url.searchParams.set('application_name', name);
      replicas.push(await startReplica(name, ['--db', url.toString(), '--pool-size', String(poolSize), '--enroll-rate-limit', 'off', '--log-level', 'warn']));
    }
    const sampler = await sampleConnections(new URL(db).pathname.slice(1), names);
    // the lease connection opens at the first supervisor tick (every second)
    await new Promise((r) => setTimeout(r, 1500));

    const devices = (await (await fetch(`${replicas[0].url}/beta/teamwork/devices?$top=50&$select=id`, { headers: { authorization: `Bearer ${token}` } })).json()) as { value: { id: string }[] };
    assert.equal(devices.value.length, 50);
    const graph = (replica: Replica, path: string, body?: unknown) => fetch(replica.url + path, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const burst = replicas.flatMap((replica, r) => [
      ...Array.from({ length: 60 }, (_, i) => graph(replica, `/beta/teamwork/devices?$top=50&$expand=operations&$filter=deviceType eq '${i % 2 ? 'teamsRoom' : 'collaborationBar'}'`)),
      ...Array.from({ length: 25 }, (_, i) => graph(replica, `/beta/teamwork/devices/${devices.value[r * 25 + i].id}/updateSoftware`, { softwareType: 'teamsClient', softwareVersion: '1.0.96.2024061103' })),
      ...Array.from({ length: 25 }, () => fetch(`${replica.url}/agent/v1/enroll`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(enrollBody(enrollmentToken)),
      })),
    ]);
    const statuses = await Promise.all(burst.map(async (pending) => {
      const response = await pending;
      await response.arrayBuffer();
      return response.status;
    }));
    const seen = await sampler.stop();

    const counts: Record<number, number> = {};
    for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
    assert.deepEqual(counts, { 200: 120, 201: 50, 202: 50 }, 'every request of the burst succeeded: the pools queued what they could not run at once');
    for (const name of names) {
      const most = seen.get(name)!;
      assert.equal(most.listen, 1, `${name}: one LISTEN connection (${JSON.stringify(most)})`);
      assert.equal(most.lease, 1, `${name}: one supervisor-lease connection (${JSON.stringify(most)})`);
      assert.ok(most.pool <= poolSize, `${name}: the pool stayed within --pool-size ${poolSize} (${JSON.stringify(most)})`);
      assert.ok(most.pool >= 2, `${name}: the burst did reach the pool, so the bound was tested (${JSON.stringify(most)})`);
      assert.ok(most.total <= poolSize + 2, `${name}: pool + 2 dedicated at most (${JSON.stringify(most)})`);
    }
  });

  test('enrollments waiting on their tenant\'s count hold at most half the pool: the replica still answers reads', async () => {
    const database = await createPostgresDatabase();
    databases.push(database);
    const db = database.url;
    await runCli(['seed', '--db', db, '--tenant', tenant, '--devices', '20']);
    const token = (await runCli(['token', '--db', db, '--tenant', tenant])).trim();
    const enrollmentToken = (await runCli(['enrollment-token', 'create', '--db', db, '--tenant', tenant])).trim();
    const replica = await startReplica('pool-2', ['--db', db, '--pool-size', '2', '--enroll-rate-limit', 'off', '--log-level', 'warn']);
    const enroll = () => fetch(`${replica.url}/agent/v1/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(enrollBody(enrollmentToken)) });
    const first = await enroll();
    assert.equal(first.status, 201, await first.text());

    // Another session holds the tenant's device count, as a long enrollment on another replica would.
    const holder = new pg.Client({ connectionString: db });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('UPDATE tenant_enrolled_devices SET enrolled = enrolled WHERE tenant_id = $1', [tenant]);
      const waiting = Array.from({ length: 6 }, () => enroll().then(async (r) => ({ status: r.status, text: await r.text() })));
      await new Promise((r) => setTimeout(r, 500));
      // Without the cap both connections would wait on the lock and this read on them, until the pool gave up (503 after 5 s).
      const read = await fetch(`${replica.url}/beta/teamwork/devices?$top=5`, { headers: { authorization: `Bearer ${token}` } });
      const readText = await read.text();
      await holder.query('COMMIT');
      assert.equal(read.status, 200, `a read while 6 enrollments wait on the lock: ${readText}`);
      const enrolled = await Promise.all(waiting);
      assert.deepEqual(enrolled.map((e) => e.status), [201, 201, 201, 201, 201, 201], JSON.stringify(enrolled));
    } finally {
      await holder.query('ROLLBACK').catch(() => {});
      await holder.end();
    }
  });
});
