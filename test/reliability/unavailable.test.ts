import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import net from 'node:net';
import { binPath, freePort, freshDatabase, repoRoot, runCli, ServeProcess } from '../helpers/cli-process.js';
import { deviceIds, expectGraphError } from '../helpers/http-assertions.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { offerIn, offersOf } from '../helpers/test-catalog.js';
import { adminUrl, createPostgresDatabase, queryDatabase, testStore } from '../helpers/test-database.js';
import { postJson, startTestServer, tenantA, type TestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Database trouble: every request that needs the database gets a 503 with the Graph error
 * body and Retry-After (never a 500, never a half-done write), and the service recovers by
 * itself once the database is back, without a restart.
 */

/** Asserts a 503 serviceNotAvailable with an integer Retry-After ≥ 1; returns the seconds. */
async function expectUnavailable(response: Response, what: string): Promise<number> {
  const retryAfter = response.headers.get('retry-after');
  await expectGraphError(response, 503, 'serviceNotAvailable').catch((error: Error) => {
    throw new Error(`${what}: ${error.message}`);
  });
  assert.match(retryAfter ?? '', /^\d+$/, `${what}: Retry-After ${retryAfter}`);
  const seconds = Number(retryAfter);
  assert.ok(seconds >= 1, `${what}: Retry-After ${seconds}`);
  return seconds;
}

/**
 * Retries as a well-behaved client does (waiting Retry-After) until `expected` arrives; every
 * refusal in between must be a proper 503. Fails after `timeoutMs`.
 */
async function recovers(send: () => Promise<Response>, expected: number, what: string, timeoutMs = 15_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await send();
    if (response.status === expected) return response;
    const seconds = await expectUnavailable(response, `${what} while recovering`);
    assert.ok(Date.now() + seconds * 1000 < deadline, `${what}: not recovered within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  }
}

function locationOf(response: Response): string {
  const location = response.headers.get('location');
  assert.equal(response.status, 202);
  assert.ok(location);
  return location;
}

const update = (version: string) => ({ softwareType: 'teamsClient', softwareVersion: version });

/** A soft file size limit can be set for a child (bash ulimit) and lifted from outside (prlimit). */
function canLimitFileSize(): boolean {
  if (process.platform !== 'linux') return false;
  try {
    execFileSync('prlimit', ['--version'], { stdio: 'ignore' });
    execFileSync('bash', ['-c', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('SQLite: the database file is locked or full', { skip: testStore !== 'sqlite' && 'SQLite only' }, () => {
  let server: TestServer;
  let ids: string[];

  before(async () => {
    server = await startTestServer({ devicesA: 120 });
    ids = await deviceIds(server, 120);
  });

  after(async () => {
    await server?.stop();
  });

  const operationsOf = async (deviceId: string) =>
    server.query<{ id: string; status: string }>('SELECT id, status FROM operations WHERE device_id = ?', [deviceId]);

  test('another connection holds the write lock: 503 + Retry-After, nothing is created; once released it succeeds', { timeout: 60_000 }, async () => {
    const accepted = locationOf(await server.request(`/beta/teamwork/devices/${ids[0]}/restart`, { method: 'POST' }));
    const [{ n: before }] = await server.query<{ n: number }>('SELECT count(*) AS n FROM operations');

    const lock = new Database(server.dbPath);
    lock.pragma('busy_timeout = 3000');
    lock.exec('BEGIN EXCLUSIVE');
    try {
      const posted = postJson(server, `/beta/teamwork/devices/${ids[1]}/updateSoftware`, update('3.0.1'));
      await expectUnavailable(await posted, 'updateSoftware while the file is locked');
      // Nothing of the refused request reached the file (read over another connection; WAL readers are not blocked).
      assert.deepEqual(await operationsOf(ids[1]), []);
      const [{ n: during }] = await server.query<{ n: number }>('SELECT count(*) AS n FROM operations');
      assert.equal(during, before);
    } finally {
      lock.exec('COMMIT');
      lock.close();
    }

    // Recovery by itself: the same request now succeeds, and what was accepted before is intact.
    const retried = await recovers(() => postJson(server, `/beta/teamwork/devices/${ids[1]}/updateSoftware`, update('3.0.1')), 202, 'updateSoftware after the lock');
    const location = locationOf(retried);
    assert.deepEqual((await operationsOf(ids[1])).map((r) => r.status), ['queued']);
    for (const path of [accepted, location]) {
      const response = await server.request(path);
      assert.equal(response.status, 200, path);
      assert.equal(((await response.json()) as { status: string }).status, 'queued');
    }
  });

  test('reads are still served while another connection holds the write lock', { timeout: 60_000 }, async () => {
    // The server in its own process, so this test's client keeps running while the server waits.
    const database = await freshDatabase();
    let serve: ServeProcess | null = null;
    try {
      await runCli(['seed', '--db', database.db, '--tenant', tenantA, '--devices', '3']);
      await offerIn(database.db, tenantA, [{ softwareType: 'teamsClient', version: '3.1' }]);
      const token = (await runCli(['token', '--db', database.db, '--tenant', tenantA])).stdout.trim();
      const [first, second] = (await queryDatabase<{ id: string }>(database.db, 'SELECT id FROM devices ORDER BY id')).map((r) => r.id);
      serve = await ServeProcess.start(database.db);
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      const lock = new Database(database.db);
      lock.exec('BEGIN EXCLUSIVE');
      const slow: string[] = [];
      try {
        const posted = fetch(`${serve.url}/beta/teamwork/devices/${first}/updateSoftware`, { method: 'POST', headers, body: JSON.stringify(update('3.1')) });
        // Reads for 3 s (three supervisor ticks) while the lock is held.
        const until = Date.now() + 3000;
        while (Date.now() < until && slow.length === 0) {
          const started = Date.now();
          const read = await fetch(`${serve.url}/beta/teamwork/devices/${second}`, { headers, signal: AbortSignal.timeout(2000) })
            .then(async (response) => `${response.status} ${(await response.text()).slice(0, 60)}`, (error: Error) => error.name);
          const latency = Date.now() - started;
          if (latency >= 2000 || !read.startsWith('200')) slow.push(`${latency} ms: ${read}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        lock.exec('COMMIT');
        await (await posted).text();
      } finally {
        if (lock.inTransaction) lock.exec('COMMIT');
        lock.close();
      }
      assert.deepEqual(slow, [], 'reads while another connection held the write lock');
    } finally {
      await serve?.stop(1000);
      await database.drop();
    }
  });

  test('the disk is full (file size limit): 503 + Retry-After, every 202 kept, no refused request leaves an operation; raising the limit recovers without a restart',
    { timeout: 60_000, skip: !canLimitFileSize() && 'needs Linux, bash and prlimit' },
    async () => {
      const database = await freshDatabase();
      let child: ChildProcess | null = null;
      try {
        await runCli(['seed', '--db', database.db, '--tenant', tenantA, '--devices', '150']);
        const versions = Array.from({ length: 150 }, (_, i) => (i % 2 ? `6.0.${'9'.repeat(58)}` : `6.${i}`));
        await offerIn(database.db, tenantA, offersOf([...new Set(versions), '6.1'], ['teamsClient', 'firmware', 'operatingSystem', 'adminAgent']));
        const token = (await runCli(['token', '--db', database.db, '--tenant', tenantA])).stdout.trim();
        const devices = (await queryDatabase<{ id: string }>(database.db, 'SELECT id FROM devices ORDER BY id')).map((r) => r.id);
        // The server may write files up to 64 KiB beyond the database's size (SIGXFSZ ignored, so a
        // write past it fails with EFBIG as on a full disk); the write-ahead log soon reaches that.
        const limitKiB = Math.ceil(statSync(database.db).size / 1024) + 64;
        const port = await freePort();
        child = spawn('bash', ['-c', `trap '' XFSZ; ulimit -S -f ${limitKiB}; exec "$0" "$@"`, process.execPath, binPath, 'serve', '--db', database.db,
          '--port', String(port), '--log-level', 'silent'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
        let output = '';
        child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
        await waitFor('serve to listen', async () => /listening on/.test(output), { timeoutMs: 20_000 });
        const url = `http://127.0.0.1:${port}`;
        const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

        const sent: { deviceId: string; softwareType: string; status: number }[] = [];
        for (const softwareType of ['teamsClient', 'firmware', 'operatingSystem', 'adminAgent']) {
          const responses = await Promise.all(devices.map(async (deviceId, i) => {
            const response = await fetch(`${url}/beta/teamwork/devices/${deviceId}/updateSoftware`, {
              method: 'POST', headers, body: JSON.stringify({ softwareType, softwareVersion: versions[i] }),
            });
            if (response.status !== 202) await expectUnavailable(response, `${softwareType} on device ${i}`);
            else await response.text();
            return { deviceId, softwareType, status: response.status };
          }));
          sent.push(...responses);
          if (responses.some((r) => r.status === 503)) break;
        }
        const refused = sent.filter((r) => r.status !== 202);
        assert.ok(refused.length > 0, 'the file size limit was reached');
        assert.ok(sent.some((r) => r.status === 202), 'some requests were accepted before');

        // Space again, without a restart.
        execFileSync('prlimit', ['--pid', String(child.pid), '--fsize=unlimited']);
        const retried = await recovers(() => fetch(`${url}/beta/teamwork/devices/${refused[0].deviceId}/updateSoftware`, {
          method: 'POST', headers, body: JSON.stringify({ softwareType: refused[0].softwareType, softwareVersion: '6.1' }),
        }), 202, 'updateSoftware after the limit was raised');
        await retried.text();

        const rows = await queryDatabase<{ device_id: string; software_type: string; status: string }>(database.db, 'SELECT device_id, software_type, status FROM operations');
        const written = new Set(rows.map((r) => `${r.device_id}|${r.software_type}`));
        const problems = [
          ...sent.filter((r) => r.status === 202 && !written.has(`${r.deviceId}|${r.softwareType}`)).map((r) => `accepted but missing: ${r.deviceId} ${r.softwareType}`),
          ...sent.filter((r) => r.status !== 202 && written.has(`${r.deviceId}|${r.softwareType}`) && !(r.deviceId === refused[0].deviceId && r.softwareType === refused[0].softwareType))
            .map((r) => `refused but written: ${r.deviceId} ${r.softwareType}`),
        ];
        assert.deepEqual(problems.slice(0, 5), [], `${problems.length} problems`);
        assert.ok(rows.every((r) => r.status === 'queued'));
        const [check] = await queryDatabase<{ integrity_check: string }>(database.db, 'PRAGMA integrity_check');
        assert.equal(check.integrity_check, 'ok');
      } finally {
        if (child && child.exitCode === null) {
          child.kill('SIGKILL');
          await new Promise((resolve) => child!.once('exit', resolve));
        }
        await database.drop();
      }
    });
});

describe('PostgreSQL: the database goes away and comes back', { skip: testStore !== 'postgres' && 'PostgreSQL only' }, () => {
  let database: { url: string; drop(): Promise<void> };
  let proxy: TcpProxy;
  let server: TestServer;
  let ids: string[];
  let databaseName: string;

  before(async () => {
    database = await createPostgresDatabase();
    databaseName = new URL(database.url).pathname.slice(1);
    proxy = TcpProxy.forUrl(database.url);
    await proxy.start();
    // The server reaches its database only through the proxy; the test's own queries go direct.
    server = await startTestServer({ devicesA: 20, config: { db: proxy.via(database.url), poolSize: 4 } });
    ids = await deviceIds(server, 20);
  });

  after(async () => {
    await proxy?.cut(); // fails whatever is stuck, so closing the pool cannot hang
    await server?.stop();
    await proxy?.close();
    await database?.drop();
  });

  const direct = <T = Record<string, unknown>>(sql: string, params: unknown[] = []) => queryDatabase<T>(database.url, sql, params);

  /**
   * Waits until the server's LISTEN connection is established and idle, so each test
   * disturbs the database at a moment it chose (the setup window has a test of its own below).
   */
  async function listenerSettled(): Promise<void> {
    await waitFor('the server\'s LISTEN connection', async () => {
      const rows = await admin((client) => client.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND state = 'idle' AND query ILIKE 'LISTEN %'",
        [databaseName],
      ));
      return rows.rows[0].n > 0;
    }, { timeoutMs: 15_000, intervalMs: 50 });
  }

  async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  }

  test('PostgreSQL unreachable: reads and actions get 503 + Retry-After; it recovers without a restart; accepted work is kept', { timeout: 60_000 }, async () => {
    const accepted = locationOf(await server.request(`/beta/teamwork/devices/${ids[0]}/restart`, { method: 'POST' }));
    await listenerSettled();
    await proxy.cut();
    try {
      for (let i = 0; i < 3; i++) {
        await expectUnavailable(await server.request('/beta/teamwork/devices?$top=5'), `list devices #${i}`);
        await expectUnavailable(await server.request(accepted), `GET operation #${i}`);
        await expectUnavailable(await postJson(server, `/beta/teamwork/devices/${ids[1]}/updateSoftware`, update('5.0.1')), `updateSoftware #${i}`);
      }
      assert.deepEqual(await direct('SELECT id FROM operations WHERE device_id = ?', [ids[1]]), [], 'nothing of the refused requests was written');
    } finally {
      await proxy.restore();
    }
    await recovers(() => server.request('/beta/teamwork/devices?$top=5'), 200, 'list devices after PostgreSQL came back');
    const response = await server.request(accepted);
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { status: string }).status, 'queued');
    locationOf(await recovers(() => postJson(server, `/beta/teamwork/devices/${ids[1]}/updateSoftware`, update('5.0.1')), 202, 'updateSoftware after PostgreSQL came back'));
  });

  test('the server\'s connections are terminated in the middle of a query: 503 + Retry-After, then it recovers', { timeout: 60_000 }, async () => {
    await listenerSettled();
    await admin(async (locker) => {
      // A lock held in the test's database (not the admin one), so the server's next read waits on it.
      const holder = new pg.Client({ connectionString: database.url });
      await holder.connect();
      try {
        await holder.query('BEGIN');
        await holder.query('LOCK TABLE devices IN ACCESS EXCLUSIVE MODE');
        const waiting = server.request('/beta/teamwork/devices?$top=5');
        const deadline = Date.now() + 10_000;
        for (;;) {
          const rows = await locker.query(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' AND query LIKE '%ORDER BY id LIMIT%'",
            [databaseName],
          );
          if (rows.rows[0].n > 0) break;
          assert.ok(Date.now() < deadline, 'the server\'s query waits on the lock');
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        const holderPid = (await holder.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
        await locker.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> $2', [databaseName, holderPid]);
        await expectUnavailable(await waiting, 'a read whose connection was terminated');
        await holder.query('ROLLBACK');
      } finally {
        await holder.end();
      }
    });
    await recovers(() => server.request('/beta/teamwork/devices?$top=5'), 200, 'list devices after the terminations');
    locationOf(await recovers(() => postJson(server, `/beta/teamwork/devices/${ids[2]}/updateSoftware`, update('5.1')), 202, 'updateSoftware after the terminations'));
  });

  test('the database refuses connections (ALLOW_CONNECTIONS false): 503 + Retry-After; after re-allowing it recovers', { timeout: 60_000 },
    async () => {
      const accepted = locationOf(await server.request(`/beta/teamwork/devices/${ids[3]}/restart`, { method: 'POST' }));
      await listenerSettled();
      await admin(async (client) => {
        await client.query(`ALTER DATABASE ${databaseName} WITH ALLOW_CONNECTIONS false`);
        try {
          await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [databaseName]);
          for (let i = 0; i < 3; i++) {
            await expectUnavailable(await server.request('/beta/teamwork/devices?$top=5'), `list devices #${i}`);
            await expectUnavailable(await postJson(server, `/beta/teamwork/devices/${ids[4]}/updateSoftware`, update('5.2')), `updateSoftware #${i}`);
          }
        } finally {
          await client.query(`ALTER DATABASE ${databaseName} WITH ALLOW_CONNECTIONS true`);
        }
      });
      await recovers(() => server.request(accepted), 200, 'GET operation after re-allowing');
      locationOf(await recovers(() => postJson(server, `/beta/teamwork/devices/${ids[4]}/updateSoftware`, update('5.2')), 202, 'updateSoftware after re-allowing'));
    });

  test('a connection lost while the server sets up its LISTEN does not crash the process',
    { timeout: 60_000 },
    async () => {
      // A proxy that lets everything through except LISTEN: the connection carrying it is cut
      // (as a failover or an administrator would, at that moment).
      const target = new URL(database.url);
      const sockets = new Set<net.Socket>();
      let cuts = 0;
      const cutter = net.createServer((client) => {
        const upstream = net.connect(Number(target.port || 5432), target.hostname);
        sockets.add(client).add(upstream);
        client.on('data', (chunk: Buffer) => {
          if (chunk.includes('LISTEN')) {
            cuts++;
            client.destroy();
            upstream.destroy();
          } else upstream.write(chunk);
        });
        upstream.on('data', (chunk: Buffer) => client.write(chunk));
        for (const socket of [client, upstream]) socket.on('error', () => socket.destroy());
      });
      await new Promise<void>((done) => cutter.listen(0, '127.0.0.1', done));
      const viaCutter = new URL(database.url);
      viaCutter.hostname = '127.0.0.1';
      viaCutter.port = String((cutter.address() as net.AddressInfo).port);
      let serve: ServeProcess | null = null;
      try {
        const token = (await runCli(['token', '--db', database.url, '--tenant', tenantA])).stdout.trim();
        serve = await ServeProcess.start(viaCutter.toString());
        // The LISTEN connection is retried every 250 ms (doubling): give it a few attempts.
        await new Promise((resolve) => setTimeout(resolve, 1500));
        assert.ok(cuts > 0, 'no LISTEN went through the proxy: nothing was cut');
        assert.ok(serve.running, `serve died:\n${serve.log().slice(-1500)}`);
        const response = await fetch(`${serve.url}/beta/teamwork/devices?$top=1`, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(response.status, 200, await response.text());
      } finally {
        await serve?.stop(1000);
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((done) => cutter.close(() => done()));
      }
    });

  test('PostgreSQL stops answering (network partition): a 503 within seconds, not a request that hangs',
    { timeout: 60_000 },
    async () => {
      // Warm the pool, then hold every byte between the server and PostgreSQL.
      assert.equal((await server.request('/beta/teamwork/devices?$top=1')).status, 200);
      await listenerSettled();
      proxy.freeze();
      try {
        const started = Date.now();
        const response = await server.request('/beta/teamwork/devices?$top=5', { signal: AbortSignal.timeout(10_000) }).catch((error: Error) => error);
        assert.ok(!(response instanceof Error), `no answer within ${Date.now() - started} ms (${response instanceof Error ? response.name : ''})`);
        await expectUnavailable(response, 'list devices during a partition');
      } finally {
        // Drop the stuck connections rather than replaying them; the pool opens new ones.
        await proxy.cut();
        await proxy.restore();
      }
      await recovers(() => server.request('/beta/teamwork/devices?$top=5'), 200, 'list devices after the partition');
    });
});
