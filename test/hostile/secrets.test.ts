import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { redactDatabaseUrl } from '../../src/store/open-store.js';
import { ServeProcess } from '../helpers/cli-process.js';
import { requestOperation } from '../helpers/graph-operations.js';
import { enrollBody, enrollmentToken, TestAgent } from '../helpers/test-agent.js';
import { createPostgresDatabase, testStore } from '../helpers/test-database.js';
import { postJson, startTestServer } from '../helpers/test-server.js';
import { logCapture } from '../helpers/log-capture.js';

/**
 * Secrets stay secret: the SQLite file (it holds the dev issuer's signing key) and the
 * generated TLS key are readable by their owner only, a database password is never printed,
 * and no token, enrollment token or device credential reaches the log.
 */

const mode = (path: string) => statSync(path).mode & 0o777;
const octal = (m: number) => m.toString(8).padStart(4, '0');

const temporary: string[] = [];
after(() => {
  for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
});

function temporaryDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'twd-secrets-'));
  temporary.push(dir);
  return dir;
}

const sqliteOnly = testStore === 'postgres' ? 'SQLite files: runs in the SQLite pass' : false;
const postgresOnly = testStore === 'postgres' ? false : 'needs PostgreSQL: runs in the PostgreSQL pass';

describe('file modes', () => {
  test('a fresh server creates its data directory 0700 and the database, -wal and -shm 0600, whatever the umask', { skip: sqliteOnly }, async () => {
    const dataDir = join(temporaryDir(), 'data', 'nested');
    const db = join(dataDir, 'twd.db');
    const umask = process.umask(0o022);
    try {
      const server = await startTestServer({ devicesA: 2, config: { db } });
      try {
        // A write, so the WAL and its index exist.
        const [{ id }] = await server.query<{ id: string }>('SELECT id FROM devices LIMIT 1');
        await requestOperation(server, id, 'restart');
        for (const file of [db, `${db}-wal`, `${db}-shm`]) {
          assert.ok(existsSync(file), `${file} exists`);
          assert.equal(octal(mode(file)), '0600', file);
        }
        assert.equal(octal(mode(dataDir)), '0700', dataDir);
        assert.equal(octal(mode(join(dataDir, '..'))), '0700', 'directories created on the way');
      } finally {
        await server.stop();
      }
    } finally {
      process.umask(umask);
    }
  });

  test('an existing database file readable by others is warned about at start', { skip: sqliteOnly }, async () => {
    const dir = temporaryDir();
    const db = join(dir, 'twd.db');
    const first = await startTestServer({ config: { db } });
    await first.stop();
    chmodSync(db, 0o644);
    const log = logCapture();
    const server = await startTestServer({ config: { db, logLevel: 'warn' }, outputs: { logDestination: log.stream } });
    await server.stop();
    const warning = log.text().split('\n').filter(Boolean).map((line) => JSON.parse(line) as { level: number; msg: string })
      .find((line) => line.msg.includes(db) && /accessible to other users/.test(line.msg));
    assert.ok(warning, `no warning in: ${log.text()}`);
    assert.equal(warning.level, 40);
    assert.match(warning.msg, /mode 0644/);
    assert.equal(octal(mode(db)), '0644', 'the owner\'s choice is not changed behind their back');
  });

  test('the generated TLS key is 0600 in a 0700 folder', async () => {
    const dir = temporaryDir();
    const server = await startTestServer({ config: { tls: true, db: join(dir, 'twd.db') } });
    await server.stop();
    assert.equal(octal(mode(join(dir, 'tls', 'localhost.key'))), '0600');
    assert.equal(octal(mode(join(dir, 'tls'))), '0700');
  });
});

describe('database URLs', () => {
  test('redactDatabaseUrl hides the password, in the user info or the query string, and leaves paths alone', () => {
    assert.equal(redactDatabaseUrl('postgres://twd:s3cret@db.internal:5432/twd'), 'postgres://twd:***@db.internal:5432/twd');
    assert.equal(redactDatabaseUrl('postgresql://twd:p%40ss@db/twd?sslmode=require'), 'postgresql://twd:***@db/twd?sslmode=require');
    assert.equal(redactDatabaseUrl('postgres://twd@db/twd?password=s3cret'), 'postgres://twd@db/twd?password=***');
    assert.equal(redactDatabaseUrl('postgres://twd@db/twd'), 'postgres://twd@db/twd');
    assert.equal(redactDatabaseUrl('./data/teamwork-devices.db'), './data/teamwork-devices.db');
  });

  test('`serve` on a PostgreSQL URL with a password never prints the password', { skip: postgresOnly, timeout: 60_000 }, async () => {
    const database = await createPostgresDatabase();
    const password = 's3cret-pass';
    const url = new URL(database.url);
    url.username = 'postgres';
    url.password = password;
    let serve: ServeProcess | null = null;
    try {
      serve = await ServeProcess.start(url.toString(), ['--log-level', 'trace', '--demo-devices', '3', '--simulate', '2']);
      // The simulated devices enroll and poll through the same server and its log.
      const response = await fetch(`${serve.url}/beta/teamwork/devices`, { headers: { authorization: 'Bearer not-a-token' } });
      assert.equal(response.status, 401);
      await serve.stop();
      const output = serve.log();
      assert.match(output, /listening on http:\/\/\S+\s+\(db: postgres:\/\/postgres:\*\*\*@127\.0\.0\.1/);
      assert.ok(!output.includes(password), `the password was printed:\n${output}`);
    } finally {
      await serve?.stop();
      await database.drop();
    }
  });
});

describe('the log', () => {
  // Few lines are logged per request today; whatever is added later (audit, failed logins) is held to this.
  test('a session of tokens, enrollment, device credentials and failures leaves no secret in the log (trace level)', { timeout: 60_000 }, async () => {
    const log = logCapture();
    // On PostgreSQL, the server connects with a password in its URL (trust auth ignores it).
    const database = testStore === 'postgres' ? await createPostgresDatabase() : null;
    const pgPassword = 'pg-s3cret-in-url';
    const db = database ? Object.assign(new URL(database.url), { username: 'postgres', password: pgPassword }).toString() : undefined;
    const server = await startTestServer({ devicesA: 2, config: { logLevel: 'trace', ...(db ? { db } : {}) }, outputs: { logDestination: log.stream } });
    const secrets: Record<string, string> = {};
    try {
      const adminToken = await server.token();
      secrets.adminToken = adminToken;
      secrets.adminTokenSignature = adminToken.split('.')[2];
      assert.equal((await server.request('/beta/teamwork/devices', { token: adminToken })).status, 200);
      const forgedToken = `${adminToken.slice(0, -4)}AAAA`;
      secrets.forgedToken = forgedToken;
      assert.equal((await server.request('/beta/teamwork/devices', { token: forgedToken, headers: { 'client-request-id': 'bad-token-1' } })).status, 401);
      const appToken = await server.token({ app: true });
      secrets.appToken = appToken;
      assert.equal((await server.request('/beta/teamwork/devices?$filter=nonsense eq 1', { token: appToken })).status, 400);

      const enrollment = await enrollmentToken(server);
      secrets.enrollmentToken = enrollment;
      const wrongEnrollment = `${enrollment.slice(0, -3)}xyz`;
      secrets.wrongEnrollmentToken = wrongEnrollment;
      const intruder = new TestAgent(server.url);
      assert.ok([401, 403].includes((await intruder.enroll(enrollBody(wrongEnrollment))).status));
      const agent = new TestAgent(server.url);
      await agent.enrollOk(enrollBody(enrollment), 201);
      const credential = agent.credential!;
      secrets.deviceCredential = credential;
      secrets.deviceSecret = credential.slice(credential.lastIndexOf('.') + 1);
      const wrongCredential = `${credential.slice(0, -4)}AAAA`;
      secrets.wrongCredential = wrongCredential;
      assert.equal((await agent.poll(0, { credential: wrongCredential })).status, 401);
      assert.equal((await agent.inventory({ activityState: 'idle' })).status, 200);

      const operationId = await requestOperation(server, agent.deviceId!, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: '1.0.96.77' });
      await agent.ackOk(operationId);
      await agent.resultOk(operationId, { status: 'successful', installed: { teamsClient: '1.0.96.77' } });
      const failing = await postJson(server, `/beta/teamwork/devices/${agent.deviceId}/updateSoftware`, '{"softwareType":',
        { headers: { 'client-request-id': 'failing-request-7' } });
      assert.equal(failing.status, 400);
      assert.equal((await server.request(`/beta/teamwork/devices/${agent.deviceId}`, { headers: { authorization: `Bearer ${secrets.deviceCredential}` } })).status, 401);
    } finally {
      await server.stop();
      await database?.drop();
    }
    if (database) secrets.pgPassword = pgPassword;
    const text = log.text();
    // The capture works (so an empty result means nothing leaked, not nothing recorded).
    assert.match(text, /Server listening/);
    const leaked = Object.entries(secrets).filter(([, secret]) => text.includes(secret)).map(([name]) => name);
    assert.deepEqual(leaked, [], `secrets in the log:\n${text.slice(0, 4000)}`);
  });
});
