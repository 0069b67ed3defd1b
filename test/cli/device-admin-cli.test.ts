import assert from 'node:assert/strict';
import { existsSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freshDatabase, runCli, ServeProcess, type FreshDatabase } from '../helpers/cli-process.js';
import { expectGraphError } from '../helpers/http-assertions.js';
import { TestAgent, enrollBody } from '../helpers/test-agent.js';
import { queryDatabase, testStore } from '../helpers/test-database.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * The operator's commands for device security, as processes against this pass's store:
 * enrollment tokens (create --uses, list, revoke), the audit log, a device's credential
 * revoked and the device removed through the API; and `serve --simulate` restarted.
 */

const tenant = '5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d';
let db: FreshDatabase;
let server: ServeProcess;

before(async () => {
  db = await freshDatabase();
  server = await ServeProcess.start(db.db, ['--tenant', tenant]);
});

after(async () => {
  await server?.stop();
  await db?.drop();
});

const cli = (...args: string[]) => runCli([...args, '--db', db.db]);

interface ListedToken {
  id: string;
  maxUses: number | null;
  uses: number;
  revokedDateTime: string | null;
  description: string | null;
}

describe('enrollment-token and audit commands', () => {
  test('create --uses 1 enrolls one device; list shows its use and no secret; revoke stops a token', async () => {
    const once = (await cli('enrollment-token', 'create', '--tenant', tenant, '--uses', '1', '--description', 'lobby phone')).stdout.trim();
    assert.match(once, /^twd-enroll\.[A-Za-z0-9_-]{43}$/);
    await new TestAgent(server.url).enrollOk(enrollBody(once), 201);
    const error = await expectGraphError(await new TestAgent(server.url).enroll(enrollBody(once)), 401, 'unauthenticated');
    assert.match(error.message, /used up/);

    const listed = (await cli('enrollment-token', 'list', '--tenant', tenant, '--json')).stdout;
    assert.ok(!listed.includes(once.split('.')[1]), 'no token in the list');
    assert.ok(!/tokenHash/.test(listed));
    const [first] = JSON.parse(listed) as ListedToken[];
    assert.deepEqual({ maxUses: first.maxUses, uses: first.uses, description: first.description }, { maxUses: 1, uses: 1, description: 'lobby phone' });
    assert.match((await cli('enrollment-token', 'list', '--tenant', tenant)).stdout, /\tused up\t1\/1\t/);

    const open = (await cli('enrollment-token', 'create', '--tenant', tenant)).stdout.trim();
    const [newest] = JSON.parse((await cli('enrollment-token', 'list', '--tenant', tenant, '--json')).stdout) as ListedToken[];
    assert.equal((await cli('enrollment-token', 'revoke', newest.id, '--tenant', tenant)).stdout.trim(), `${newest.id} revoked`);
    assert.match((await expectGraphError(await new TestAgent(server.url).enroll(enrollBody(open)), 401, 'unauthenticated')).message, /revoked/);
    // Another tenant has no such token.
    await assert.rejects(cli('enrollment-token', 'revoke', newest.id, '--tenant', '7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2918'), /does not exist/);
    await assert.rejects(cli('enrollment-token', 'create', '--tenant', tenant, '--uses', '0'), /--uses/);

    await waitFor('both failed enrollments counted in the database', async () => {
      const rows = await queryDatabase<{ n: number | string }>(db.db, "SELECT count(*) AS n FROM audit_events WHERE activity = 'authenticationFailed'");
      return Number(rows[0].n) >= 2;
    }, { timeoutMs: 10_000 });
    const audit = JSON.parse((await cli('audit', 'list', '--tenant', tenant, '--json')).stdout) as { activity: string; initiatedBy: { type: string } }[];
    // Enrolling with a used-up or revoked token is a failed authentication of the token's tenant.
    assert.equal(audit.filter((e) => e.activity === 'authenticationFailed').length, 2);
    const changes = audit.filter((e) => e.activity !== 'authenticationFailed');
    assert.deepEqual(changes.map((e) => e.activity), ['enrollmentTokenRevoked', 'enrollmentTokenCreated', 'deviceEnrolled', 'enrollmentTokenCreated']);
    assert.equal(changes[0].initiatedBy.type, 'operator');
    const text = (await cli('audit', 'list')).stdout;
    assert.match(text, /deviceEnrolled\tsuccess\tenrollmentToken/);
    assert.ok(!text.includes(once.split('.')[1]) && !text.includes(open.split('.')[1]), 'the audit log holds no token');
  });

  test('devices revoke-credential and devices remove, through the API with an admin token', async () => {
    const token = (await cli('enrollment-token', 'create', '--tenant', tenant)).stdout.trim();
    const agent = new TestAgent(server.url);
    const enrolled = await agent.enrollOk(enrollBody(token), 201);
    const admin = (await cli('token', '--tenant', tenant)).stdout.trim();
    const client = ['--url', server.url, '--token', admin];
    assert.match((await runCli(['devices', 'revoke-credential', enrolled.deviceId, ...client])).stdout, /credential revoked/);
    await expectGraphError(await agent.poll(0), 401, 'unauthenticated');
    assert.match((await runCli(['devices', 'remove', enrolled.deviceId, ...client])).stdout, /removed/);
    await assert.rejects(runCli(['devices', 'remove', enrolled.deviceId, ...client]), /404 itemNotFound/);
    const [{ n }] = await queryDatabase<{ n: number | string }>(db.db, 'SELECT count(*) AS n FROM devices WHERE id = ?', [enrolled.deviceId]);
    assert.equal(Number(n), 0);
  });
});

describe('serve --simulate, restarted', () => {
  test('the fleet keeps its credentials and comes back as the same devices; without them the server resets its own fleet', async () => {
    const fresh = await freshDatabase();
    const stateFile = testStore === 'sqlite' ? join(fresh.dir, 'simulated-fleet.json') : null;
    const devicesOf = async () => (await queryDatabase<{ id: string; credential_hash: string | null }>(fresh.db,
      'SELECT id, credential_hash FROM devices ORDER BY id')).map((r) => r.id);
    try {
      const first = await ServeProcess.start(fresh.db, ['--simulate', '3', '--sim-update-ms', '100']);
      const ids = await waitFor('three enrolled devices', async () => ((await devicesOf()).length === 3 ? devicesOf() : null));
      // Stopped right after it started, it exits within the 5 s stop() allows before SIGKILL: the fleet's
      // connections that never sent a request no longer hold the server's close for its grace period.
      assert.equal((await first.stop()).code, 0);
      if (stateFile) assert.equal(statSync(stateFile).mode & 0o777, 0o600, 'the credentials file is private');

      const second = await ServeProcess.start(fresh.db, ['--simulate', '3', '--sim-update-ms', '100']);
      try {
        assert.match(second.log(), /3 simulated devices are enrolled/);
        assert.ok(second.running);
        assert.deepEqual(await devicesOf(), ids, 'the same three devices, no new ones');
        const refused = await queryDatabase(fresh.db, "SELECT * FROM audit_events WHERE activity = 'enrollmentRefused'");
        assert.deepEqual(refused, []);
      } finally {
        assert.equal((await second.stop()).code, 0);
      }

      if (stateFile) {
        rmSync(stateFile);
        const third = await ServeProcess.start(fresh.db, ['--simulate', '3', '--sim-update-ms', '100']);
        try {
          assert.match(third.log(), /3 simulated devices are enrolled/);
          assert.deepEqual(await devicesOf(), ids);
          assert.ok(existsSync(stateFile));
        } finally {
          await third.stop();
        }
      }
    } finally {
      await fresh.drop();
    }
  });
});
