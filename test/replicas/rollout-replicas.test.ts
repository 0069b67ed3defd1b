import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { openStore } from '../../src/store/open-store.js';
import type { Store } from '../../src/store/store.js';
import { createPostgresDatabase, queryDatabase, testStore } from '../helpers/test-database.js';
import { killAllReplicas, runCli, startReplica, type Replica } from '../helpers/replica-process.js';
import { ScriptedFleet } from '../helpers/scripted-fleet.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * A rollout survives the replica running it: two real server processes on one PostgreSQL,
 * the one holding the scheduler's lease is SIGKILLed mid-rollout, the other takes the lease
 * and finishes the rollout, and no device is asked twice.
 */

const tenant = '77777777-7777-4777-8777-777777777777';
const version = '1.0.96.2024061103';
const onlyOnPostgres = testStore !== 'postgres' && 'replicas share PostgreSQL: run in the PostgreSQL pass';

let store: Store | null = null;
let fleet: ScriptedFleet | null = null;
const databases: { drop(): Promise<void> }[] = [];

after(async () => {
  await fleet?.stop();
  await killAllReplicas();
  await store?.close();
  for (const database of databases) await database.drop();
});

describe('a rollout across replicas', { timeout: 120_000, skip: onlyOnPostgres }, () => {
  test('the lease holder is killed mid-rollout; the other replica finishes it and no device is asked twice', async () => {
    const database = await createPostgresDatabase();
    databases.push(database);
    const db = database.url;
    await runCli(['catalog', 'add', '--db', db, '--tenant', tenant, '--software-type', 'teamsClient', '--version', version]);
    const token = (await runCli(['token', '--db', db, '--tenant', tenant])).trim();
    // A starts first and takes the lease at its first supervisor tick; B starts once A holds it.
    const a: Replica = await startReplica('A', ['--db', db, '--log-level', 'warn']);
    await waitFor('A to hold the lease', async () => {
      const rows = await queryDatabase<{ n: number | string }>(db, "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted");
      return Number(rows[0].n) >= 1;
    }, { timeoutMs: 10_000 });
    const b: Replica = await startReplica('B', ['--db', db, '--log-level', 'warn']);
    store = await openStore(db);
    fleet = new ScriptedFleet({ url: b.url, store }, () => ({ ok: true }));
    const ids = await fleet.add(40, 'replicated', {}, tenant);

    const api = (replica: Replica, path: string, init: RequestInit = {}) => fetch(replica.url + path, {
      ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    });
    const created = await api(a, '/beta/teamwork/softwareRollouts', {
      method: 'POST',
      body: JSON.stringify({
        displayName: 'across replicas', softwareType: 'teamsClient', softwareVersion: version,
        target: { filter: "hardwareDetail/model eq 'replicated'" },
        stages: [{ percent: 25, concurrency: 4 }, { percent: 50, concurrency: 4 }, { percent: 100, concurrency: 4 }],
      }),
    });
    assert.equal(created.status, 201, await created.clone().text());
    const { id } = await created.json() as { id: string };
    assert.equal((await api(b, `/beta/teamwork/softwareRollouts/${id}/start`, { method: 'POST' })).status, 200);

    const counts = async () => (await (await api(b, `/beta/teamwork/softwareRollouts/${id}`)).json()) as { status: string; counts: { successful: number; total: number } };
    await waitFor('a quarter of the fleet updated', async () => (await counts()).counts.successful >= 10, { timeoutMs: 30_000 });
    await a.kill('SIGKILL');
    const mid = await counts();
    assert.ok(mid.counts.successful < 40, `killed mid-rollout (${mid.counts.successful} of 40 done)`);

    const done = await waitFor('the rollout completed on B', async () => {
      const r = await counts();
      return r.status === 'completed' ? r : null;
    }, { timeoutMs: 60_000 });
    assert.equal(done.counts.total, 40);
    assert.equal(done.counts.successful, 40);
    assert.deepEqual(fleet.askedTwice(), [], 'no device was handed two operations');
    const operations = await queryDatabase<{ device_id: string; n: number | string }>(db,
      "SELECT device_id, count(*) AS n FROM operations WHERE tenant_id = ? AND operation_type = 'softwareUpdate' GROUP BY device_id", [tenant]);
    assert.equal(operations.length, 40);
    assert.ok(operations.every((row) => Number(row.n) === 1), JSON.stringify(operations.filter((row) => Number(row.n) !== 1)));
    assert.deepEqual(new Set(operations.map((row) => row.device_id)), new Set(ids));
  });
});
