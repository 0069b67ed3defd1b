import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { freshDatabase, runCli, ServeProcess, type FreshDatabase } from '../helpers/cli-process.js';
import { NotificationReceiver } from '../helpers/notification-receiver.js';
import { queryDatabase } from '../helpers/test-database.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * No accepted change is lost to a crash: `serve` (a real process) is SIGKILLed in the middle
 * of a burst of accepted operations while its notifications are still undelivered (the
 * receiver does not answer); started again, it notifies every operation the database holds,
 * every 202 among them, exactly the committed ones.
 */

const tenant = '3e2d1c0b-9a8f-4e7d-8c6b-5a4f3e2d1c0b';
let db: FreshDatabase;
let receiver: NotificationReceiver;
const servers: ServeProcess[] = [];

before(async () => {
  db = await freshDatabase();
  await runCli(['seed', '--db', db.db, '--tenant', tenant, '--devices', '300']);
  receiver = await NotificationReceiver.start();
});

after(async () => {
  for (const server of servers) await server.stop(1000);
  await receiver?.stop();
  await db?.drop();
});

describe('SIGKILL with notifications pending', () => {
  test('every committed operation is notified after the restart, none lost', { timeout: 120_000 }, async () => {
    const token = (await runCli(['token', '--db', db.db, '--tenant', tenant])).stdout.trim();
    const devices = (await queryDatabase<{ id: string }>(db.db, 'SELECT id FROM devices WHERE tenant_id = ? ORDER BY id', [tenant])).map((r) => r.id);
    const first = await ServeProcess.start(db.db, ['--tenant', tenant]);
    servers.push(first);
    const created = await fetch(`${first.url}/beta/subscriptions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ changeType: 'created', resource: 'teamwork/devices/operations', notificationUrl: receiver.url, expirationDateTime: new Date(Date.now() + 86_400_000).toISOString() }),
    });
    assert.equal(created.status, 201, await created.text());
    receiver.always = 'hang';

    // A burst of restarts, 16 at a time; the kill comes while some are in flight.
    const accepted: string[] = [];
    let next = 0;
    let killed = false;
    const worker = async () => {
      while (next < devices.length && !killed) {
        const device = devices[next++];
        try {
          const response = await fetch(`${first.url}/beta/teamwork/devices/${device}/restart`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
          if (response.status === 202) accepted.push(response.headers.get('location')!.split('/').pop()!);
        } catch {
          // no answer: the process died with the request in flight
        }
        if (accepted.length >= 150 && !killed) {
          killed = true;
          first.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    await first.exited;
    assert.ok(accepted.length >= 150);
    assert.equal(receiver.changes.length, 0, 'nothing was delivered before the kill');

    receiver.always = null;
    const second = await ServeProcess.start(db.db, ['--tenant', tenant]);
    servers.push(second);
    const committed = (await queryDatabase<{ id: string }>(db.db, 'SELECT id FROM operations WHERE tenant_id = ?', [tenant])).map((r) => r.id);
    for (const id of accepted) assert.ok(committed.includes(id), 'every 202 is in the database');
    await waitFor('a notification of every committed operation', async () => new Set(receiver.changes.map((c) => c.resourceData.id)).size >= committed.length, { timeoutMs: 30_000 });
    const notified = new Set(receiver.changes.map((c) => c.resourceData.id));
    assert.deepEqual([...notified].sort(), [...committed].sort());
  });
});
