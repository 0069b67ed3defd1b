import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { NotificationReceiver } from '../helpers/notification-receiver.js';
import { killAllReplicas, runCli, startReplica, type Replica } from '../helpers/replica-process.js';
import { createPostgresDatabase, queryDatabase, testStore } from '../helpers/test-database.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Change notifications with two replicas on one PostgreSQL (real processes): changes accepted
 * by either replica are delivered once each, by the replica holding the lease; when it is
 * SIGKILLed the other takes over and nothing accepted is lost.
 */

const tenant = '4d3c2b1a-0f9e-4d8c-8b7a-6f5e4d3c2b1a';
const onlyOnPostgres = testStore !== 'postgres' && 'replicas share PostgreSQL: run in the PostgreSQL pass';
const databases: { drop(): Promise<void> }[] = [];
let receiver: NotificationReceiver | null = null;

after(async () => {
  await killAllReplicas();
  await receiver?.stop();
  for (const database of databases) await database.drop();
});

async function restart(replica: Replica, token: string, deviceId: string): Promise<string> {
  const response = await fetch(`${replica.url}/beta/teamwork/devices/${deviceId}/restart`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  assert.equal(response.status, 202, await response.text());
  return response.headers.get('location')!.split('/').pop()!;
}

describe('notifications on several replicas', { timeout: 120_000, skip: onlyOnPostgres }, () => {
  test('changes through either replica are delivered once each; the lease holder killed, the other delivers the rest', async () => {
    const database = await createPostgresDatabase();
    databases.push(database);
    const db = database.url;
    await runCli(['seed', '--db', db, '--tenant', tenant, '--devices', '40']);
    const token = (await runCli(['token', '--db', db, '--tenant', tenant])).trim();
    const devices = (await queryDatabase<{ id: string }>(db, 'SELECT id FROM devices ORDER BY id')).map((r) => r.id);
    const replicas = [await startReplica('a', ['--db', db, '--log-level', 'warn']), await startReplica('b', ['--db', db, '--log-level', 'warn'])];
    receiver = await NotificationReceiver.start();
    const created = await fetch(`${replicas[1].url}/beta/subscriptions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ changeType: 'created', resource: 'teamwork/devices/operations', notificationUrl: receiver.url, expirationDateTime: new Date(Date.now() + 86_400_000).toISOString() }),
    });
    assert.equal(created.status, 201, await created.text());

    const accepted = await Promise.all(devices.slice(0, 20).map((device, i) => restart(replicas[i % 2], token, device)));
    await waitFor('20 notifications', async () => receiver!.changes.length >= 20, { timeoutMs: 15_000 });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const ids = receiver.changes.map((c) => c.resourceData.id);
    assert.equal(ids.length, 20, 'each delivered once');
    assert.deepEqual([...ids].sort(), [...accepted].sort());

    // One replica is killed while a delivery hangs; the other delivers the rest: at once if the
    // dead one held the lease (the lock goes with its connection), after one backoff otherwise
    // (its hanging POST fails when the receiver cuts it).
    receiver.always = 'hang';
    const more = await Promise.all(devices.slice(20, 30).map((device, i) => restart(replicas[i % 2], token, device)));
    await waitFor('a delivery hanging', async () => receiver!.hangingCount > 0, { timeoutMs: 10_000 });
    await replicas[0].kill('SIGKILL');
    receiver.always = null;
    receiver.releaseHanging();
    await waitFor('the rest, from the surviving replica', async () => new Set(receiver!.changes.map((c) => c.resourceData.id)).size >= 30, { timeoutMs: 30_000 });
    const delivered = new Set(receiver.changes.map((c) => c.resourceData.id));
    for (const id of [...accepted, ...more]) assert.ok(delivered.has(id), `${id} delivered`);
  });
});
