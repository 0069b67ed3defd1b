import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { freshDatabase, runCli, ServeProcess, type FreshDatabase } from '../helpers/cli-process.js';
import { NotificationReceiver, signatureValid } from '../helpers/notification-receiver.js';
import { queryDatabase } from '../helpers/test-database.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * `teamwork-devices subscriptions create|list|get|renew|delete` as processes against `serve`
 * (a process too), on this pass's store, with a receiver the test runs.
 */

const tenant = '7c6b5a49-3827-4165-9504-a3b2c1d0e9f8';
let db: FreshDatabase;
let server: ServeProcess;
let receiver: NotificationReceiver;
let client: string[];
let deviceId: string;

before(async () => {
  db = await freshDatabase();
  await runCli(['seed', '--db', db.db, '--tenant', tenant, '--devices', '2']);
  server = await ServeProcess.start(db.db, ['--tenant', tenant]);
  const token = (await runCli(['token', '--db', db.db, '--tenant', tenant])).stdout.trim();
  client = ['--url', server.url, '--token', token];
  receiver = await NotificationReceiver.start();
  [{ id: deviceId }] = await queryDatabase<{ id: string }>(db.db, 'SELECT id FROM devices WHERE tenant_id = ? ORDER BY id LIMIT 1', [tenant]);
});

after(async () => {
  await server?.stop();
  await receiver?.stop();
  await db?.drop();
});

const subscriptions = (...args: string[]) => runCli(['subscriptions', ...args, ...client]);

describe('subscriptions command', () => {
  test('create, list, get, renew and delete; the receiver gets signed notifications', { timeout: 60_000 }, async () => {
    const created = JSON.parse((await subscriptions('create', '--resource', `teamwork/devices/${deviceId}/operations`,
      '--notification-url', receiver.url, '--client-state', 'from-cli', '--expires-in', '1d', '--json')).stdout);
    assert.equal(created.resource, `teamwork/devices/${deviceId}/operations`);
    assert.equal(created.changeType, 'created,updated');
    assert.match(created.signingSecret, /^[\w-]{43}$/);
    assert.equal(receiver.validations.length, 1);

    const listed = (await subscriptions('list')).stdout;
    assert.match(listed, new RegExp(`^${created.id}\\tteamwork/devices/${deviceId}/operations\\tcreated,updated\\tactive\\t`, 'm'));
    assert.ok(!listed.includes(created.signingSecret), 'the secret is shown only at creation');
    const got = JSON.parse((await subscriptions('get', created.id, '--json')).stdout);
    assert.equal(got.clientState, 'from-cli');
    assert.equal(got.signingSecret, undefined);

    const response = await fetch(`${server.url}/beta/teamwork/devices/${deviceId}/restart`, { method: 'POST', headers: { authorization: `Bearer ${client[3]}` } });
    assert.equal(response.status, 202);
    await waitFor('the notification', async () => receiver.changes.length >= 1, { timeoutMs: 10_000 });
    assert.equal(receiver.changes[0].clientState, 'from-cli');
    assert.ok(signatureValid(created.signingSecret, receiver.posts[0].body, receiver.posts[0].signature));

    const renewed = JSON.parse((await subscriptions('renew', created.id, '--expires-in', '2d', '--json')).stdout);
    assert.ok(Date.parse(renewed.expirationDateTime) > Date.parse(created.expirationDateTime));
    await assert.rejects(subscriptions('renew', created.id, '--expires-in', '4d'), /400 invalidRequest: Subscription expiration can only be 4230 minutes/);

    assert.equal((await subscriptions('delete', created.id)).stdout.trim(), `${created.id} deleted`);
    await assert.rejects(subscriptions('get', created.id), /404 itemNotFound/);
  });

  test('a receiver that fails the handshake: the command fails with Graph\'s message and nothing is saved', { timeout: 30_000 }, async () => {
    receiver.handshake = 'wrong';
    try {
      await assert.rejects(subscriptions('create', '--resource', 'teamwork/devices/operations', '--notification-url', receiver.url),
        /400 invalidRequest: Subscription validation request failed\. Response must exactly match validationToken/);
    } finally {
      receiver.handshake = 'echo';
    }
    await assert.rejects(subscriptions('create', '--resource', 'teamwork/devices/operations', '--notification-url', 'http://example.com/x'),
      /400 invalidRequest: The Uri scheme 'http' is not supported/);
    await assert.rejects(runCli(['subscriptions', 'list', '--url', server.url, '--token', 'nope']), /401 unauthenticated/);
    assert.equal(JSON.parse((await subscriptions('list', '--json')).stdout).length, 0);
  });
});
