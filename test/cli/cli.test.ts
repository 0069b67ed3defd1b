import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { freePort } from '../helpers/cli-process.js';

/**
 * The `teamwork-devices` command as scripts use it: the built bin, run from the repository
 * root as a child process, against a SQLite file in a temporary folder.
 */

// dist/test/cli/cli.test.js → repository root
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = join(root, 'bin', 'teamwork-devices.js');
const run = promisify(execFile);

const tenant = '3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a99';
const otherTenant = '7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2918';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'twd-cli-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function cli(...args: string[]) {
  return run(process.execPath, [bin, ...args], { cwd: root, timeout: 20_000, env: { ...process.env, NO_COLOR: '1' } });
}

/** The exit code and output of a command expected to fail. */
async function cliFailure(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    await cli(...args);
  } catch (error) {
    const failure = error as { code: number; stdout: string; stderr: string };
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
  assert.fail(`expected 'teamwork-devices ${args.join(' ')}' to fail`);
}

function query<T>(dbPath: string, sql: string, ...params: unknown[]): T {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).get(...params) as T;
  } finally {
    db.close();
  }
}

function claimsOf(jwt: string): Record<string, unknown> {
  const parts = jwt.split('.');
  assert.equal(parts.length, 3, 'a JWS compact serialisation');
  return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('seed', () => {
  test('registers N devices in the tenant, and seeding again adds N more without collisions', async () => {
    const db = join(dir, 'seed.db');
    const first = await cli('seed', '--db', db, '--tenant', tenant, '--devices', '500');
    const lines = first.stdout.trim().split('\n');
    assert.equal(lines.length, 1, first.stdout);
    assert.match(lines[0], /500/);
    assert.match(lines[0], new RegExp(tenant));
    assert.equal(query<{ n: number }>(db, 'SELECT count(*) AS n FROM devices WHERE tenant_id = ?', tenant).n, 500);

    const second = await cli('seed', '--db', db, '--tenant', tenant, '--devices', '500');
    assert.match(second.stdout, /1000/);
    const counts = query<{ n: number; ids: number; serials: number; uniqueIds: number }>(
      db,
      `SELECT count(*) AS n, count(DISTINCT id) AS ids, count(DISTINCT hw_serial_number) AS serials,
              count(DISTINCT hw_unique_id) AS uniqueIds FROM devices WHERE tenant_id = ?`,
      tenant,
    );
    assert.deepEqual(counts, { n: 1000, ids: 1000, serials: 1000, uniqueIds: 1000 });

    // Another tenant in the same file is counted on its own.
    await cli('seed', '--db', db, '--tenant', otherTenant, '--devices', '10');
    assert.equal(query<{ n: number }>(db, 'SELECT count(*) AS n FROM devices WHERE tenant_id = ?', otherTenant).n, 10);
    assert.equal(query<{ n: number }>(db, 'SELECT count(*) AS n FROM devices WHERE tenant_id = ?', tenant).n, 1000);
  });

  test('a missing or non-numeric --devices is an error with a non-zero exit code', async () => {
    const db = join(dir, 'seed-errors.db');
    const [missing, notNumber] = await Promise.all([
      cliFailure('seed', '--db', db, '--tenant', tenant),
      cliFailure('seed', '--db', db, '--tenant', tenant, '--devices', 'many'),
    ]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /--devices/);
    assert.notEqual(notNumber.code, 0);
    assert.match(notNumber.stderr, /--devices/);
  });
});

describe('token', () => {
  test('prints only a JWT whose payload has the tenant and the scope', async () => {
    const db = join(dir, 'token.db');
    const { stdout, stderr } = await cli('token', '--db', db, '--tenant', tenant, '--scope', 'TeamworkDevice.Read.All');
    assert.equal(stderr, '');
    assert.match(stdout, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/);
    const claims = claimsOf(stdout.trim());
    assert.equal(claims.tid, tenant);
    assert.equal(claims.scp, 'TeamworkDevice.Read.All');
    assert.equal(claims.roles, undefined);
    assert.equal(typeof claims.exp, 'number');
    assert.equal((claims.exp as number) - (claims.iat as number), 3600);
    const header = JSON.parse(Buffer.from(stdout.split('.')[0], 'base64url').toString()) as Record<string, unknown>;
    assert.equal(header.alg, 'ES256');
    assert.equal(typeof header.kid, 'string');
  });

  test('--app gives roles instead of scp; --scope takes several; --ttl and --user are honoured', async () => {
    const db = join(dir, 'token.db');
    const [appRun, severalRun, oneRun, twoRun] = await Promise.all([
      cli('token', '--db', db, '--tenant', tenant, '--app'),
      cli('token', '--db', db, '--tenant', tenant, '--scope', 'TeamworkDevice.Read.All', 'User.Read', '--ttl', '30m', '--user', 'jo.doe@contoso.example'),
      cli('token', '--db', db, '--tenant', tenant),
      cli('token', '--db', db, '--tenant', otherTenant),
    ]);
    const app = claimsOf(appRun.stdout.trim());
    assert.deepEqual(app.roles, ['TeamworkDevice.ReadWrite.All']);
    assert.equal(app.scp, undefined);
    assert.equal(app.tid, tenant);

    const several = claimsOf(severalRun.stdout.trim());
    assert.equal(several.scp, 'TeamworkDevice.Read.All User.Read');
    assert.equal((several.exp as number) - (several.iat as number), 1800);
    assert.equal(several.upn, 'jo.doe@contoso.example');

    // The signing key lives in the database: every token of the same file has the same kid.
    const kidOf = (jwt: string) => (JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString()) as { kid: string }).kid;
    const one = oneRun.stdout.trim();
    const two = twoRun.stdout.trim();
    assert.equal(kidOf(one), kidOf(two));
    assert.equal(query<{ n: number }>(db, 'SELECT count(*) AS n FROM signing_keys').n, 1);
  });

  test('--tenant must be a GUID, as for serve (seed and token refuse anything else)', async () => {
    const db = join(dir, 'tenant-check.db');
    const [token, seed] = await Promise.all([
      cliFailure('token', '--db', db, '--tenant', 'contoso'),
      cliFailure('seed', '--db', join(dir, 'tenant-check-seed.db'), '--tenant', 'contoso', '--devices', '3'),
    ]);
    assert.notEqual(token.code, 0);
    assert.equal(token.stdout, '');
    assert.match(token.stderr, /--tenant/);
    assert.notEqual(seed.code, 0);
    assert.match(seed.stderr, /--tenant/);
  });

  test('a bad --ttl is an error on stderr and nothing on stdout', async () => {
    const failure = await cliFailure('token', '--db', join(dir, 'token.db'), '--ttl', 'forever');
    assert.notEqual(failure.code, 0);
    assert.equal(failure.stdout, '');
    assert.match(failure.stderr, /forever/);
  });
});

function waitForOutput(child: ChildProcess, output: () => string, pattern: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((resolveWait, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out waiting for ${pattern}; output so far:\n${output()}`));
    }, timeoutMs);
    const check = () => {
      if (pattern.test(output())) {
        cleanup();
        resolveWait();
      }
    };
    const exited = (code: number | null) => {
      cleanup();
      reject(new Error(`serve exited (${code}) before ${pattern}; output:\n${output()}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.off('exit', exited);
    };
    child.stdout?.on('data', check);
    child.once('exit', exited);
    check();
  });
}

describe('catalog', () => {
  interface Entry { softwareType: string; version: string; deviceType: string | null; model: string | null }
  const list = async (db: string) => JSON.parse((await cli('catalog', 'list', '--db', db, '--tenant', tenant, '--json')).stdout) as Entry[];

  test('add offers one or several versions, to every device or to a device type and model; adding one again changes nothing', async () => {
    const db = join(dir, 'catalog-add.db');
    const add = (...args: string[]) => cli('catalog', 'add', '--db', db, '--tenant', tenant, '--software-type', 'teamsClient', ...args);
    assert.equal((await add('--version', '1.0.96.22')).stdout, 'added: teamsClient 1.0.96.22\n');
    const forModel = await add('--version', '1.0.96.30', '--version', '1.0.96.31', '--device-type', 'collaborationBar', '--model', 'a30');
    assert.equal(forModel.stdout, 'added: teamsClient 1.0.96.30\nadded: teamsClient 1.0.96.31\n');
    assert.equal((await add('--version', '1.0.96.22', '--version', '1.0.96.23')).stdout, 'already in the catalog: teamsClient 1.0.96.22\nadded: teamsClient 1.0.96.23\n');
    assert.deepEqual((await list(db)).map(({ softwareType, version, deviceType, model }) => ({ softwareType, version, deviceType, model })), [
      { softwareType: 'teamsClient', version: '1.0.96.31', deviceType: 'collaborationBar', model: 'a30' },
      { softwareType: 'teamsClient', version: '1.0.96.30', deviceType: 'collaborationBar', model: 'a30' },
      { softwareType: 'teamsClient', version: '1.0.96.23', deviceType: null, model: null },
      { softwareType: 'teamsClient', version: '1.0.96.22', deviceType: null, model: null },
    ]);
    // A malformed version is refused before anything is added.
    const bad = await cliFailure('catalog', 'add', '--db', db, '--tenant', tenant, '--software-type', 'firmware', '--version', '1.0', '--version', '1.0 rc');
    assert.match(bad.stderr, /--version.*'1\.0 rc'/);
    assert.equal((await list(db)).filter((e) => e.softwareType === 'firmware').length, 0);
  });

  test('demo offers several versions of every software type, among them the versions README asks for', async () => {
    const db = join(dir, 'catalog-demo.db');
    assert.match((await cli('catalog', 'demo', '--db', db, '--tenant', tenant)).stdout, /^added \d+ catalog entries\n$/);
    assert.equal((await cli('catalog', 'demo', '--db', db, '--tenant', tenant)).stdout, 'added 0 catalog entries\n');
    const entries = await list(db);
    for (const softwareType of ['adminAgent', 'operatingSystem', 'teamsClient', 'firmware', 'partnerAgent', 'companyPortal']) {
      const versions = new Set(entries.filter((e) => e.softwareType === softwareType).map((e) => e.version));
      assert.ok(versions.size >= 3, `${softwareType}: ${[...versions].join(', ')}`);
    }
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const asked = [...readme.matchAll(/"softwareType":"(\w+)","softwareVersion":"([^"]+)"/g)].map(([, softwareType, version]) => ({ softwareType, version }));
    assert.ok(asked.length > 0, 'README shows an updateSoftware body');
    for (const { softwareType, version } of asked) {
      assert.ok(entries.some((e) => e.softwareType === softwareType && e.version === version), `README's ${softwareType} ${version} is in the demo catalog`);
    }
  });
});

describe('serve', () => {
  let child: ChildProcess | null = null;
  after(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  test('prints the console\'s address first, then a token and a curl command that works; SIGTERM stops it', async () => {
    const db = join(dir, 'serve.db');
    const port = await freePort();
    // A token made before the server starts is valid for it: the key is in the database.
    const earlyToken = (await cli('token', '--db', db, '--tenant', tenant, '--scope', 'TeamworkDevice.Read.All')).stdout.trim();

    const serve = spawn(
      process.execPath,
      [bin, 'serve', '--db', db, '--port', String(port), '--tenant', tenant, '--demo-devices', '50', '--log-level', 'silent'],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = serve;
    let stdout = '';
    let stderr = '';
    serve.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    serve.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
      serve.once('exit', (code, signal) => done({ code, signal })),
    );

    await waitForOutput(serve, () => stdout + stderr, /listening on[\s\S]*\/operations\n/, 30_000);
    const base = `http://127.0.0.1:${port}`;
    assert.match(stdout, new RegExp(`listening on ${base.replace(/\./g, '\\.')}`));
    assert.equal(stdout.split('\n')[0], `Console: ${base}/`, 'the console\'s address comes first');
    const consolePage = await fetch(`${base}/`);
    assert.equal(consolePage.status, 200);
    assert.match(await consolePage.text(), /<title>Teams devices<\/title>/);

    const token = /export TOKEN=(\S+)/.exec(stdout)?.[1];
    assert.ok(token, stdout);
    assert.equal(claimsOf(token).tid, tenant);
    const postLine = /curl -i -X POST (\S+) \\/.exec(stdout);
    assert.ok(postLine, stdout);
    const postUrl = postLine[1];
    const urlMatch = new RegExp(`^${base.replace(/\./g, '\\.')}/beta/teamwork/devices/([^/]+)/updateSoftware$`).exec(postUrl);
    assert.ok(urlMatch, postUrl);
    const deviceId = urlMatch[1];
    const body = /-d '([^']+)'/.exec(stdout)?.[1];
    assert.ok(body, stdout);
    assert.match(stdout, /-H "Content-Type: application\/json"/);

    // Run the printed command (as fetch).
    const accepted = await fetch(postUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body,
    });
    assert.equal(accepted.status, 202, await accepted.text());
    const location = accepted.headers.get('location');
    assert.ok(location?.startsWith(`/teamwork/devices/${deviceId}/operations/`), location ?? '');

    // The printed follow-up GET lists the new operation.
    const listUrl = /curl -s -H "Authorization: Bearer \$TOKEN" (\S+)/.exec(stdout)?.[1];
    assert.ok(listUrl, stdout);
    const list = await fetch(listUrl, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(list.status, 200);
    const operations = (await list.json()) as { value: { id: string; status: string; operationType: string }[] };
    assert.equal(operations.value.length, 1);
    assert.equal(operations.value[0].id, location!.split('/').pop());
    assert.equal(operations.value[0].status, 'queued');
    assert.equal(operations.value[0].operationType, 'softwareUpdate');

    // --demo-devices 50 seeded exactly 50 devices in the tenant; the early CLI token works.
    const devices = await fetch(`${base}/beta/teamwork/devices?$top=50&$select=id`, { headers: { authorization: `Bearer ${earlyToken}` } });
    assert.equal(devices.status, 200);
    const page = (await devices.json()) as { value: unknown[]; '@odata.nextLink'?: string };
    assert.equal(page.value.length, 50);
    assert.equal(page['@odata.nextLink'], undefined);

    serve.kill('SIGTERM');
    const exit = await Promise.race([
      exited,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('serve did not exit within 15 s of SIGTERM')), 15_000)),
    ]);
    assert.ok(exit.code === 0 || exit.signal === 'SIGTERM', `exit ${JSON.stringify(exit)}; stderr: ${stderr}`);
    assert.equal(exit.code, 0, `a clean shutdown exits 0; stderr: ${stderr}`);

    // The port is free again and the operation survived in the file.
    await assert.rejects(fetch(`${base}/beta/teamwork/devices`));
    const row = query<{ status: string; software_type: string }>(db, 'SELECT status, software_type FROM operations WHERE id = ?', location!.split('/').pop());
    assert.deepEqual({ ...row }, { status: 'queued', software_type: 'teamsClient' });
  });

  test('seeding the demo fleet never holds requests the server is already answering', async () => {
    const port = await freePort();
    const serve = spawn(
      process.execPath,
      [bin, 'serve', '--db', join(dir, 'seeding.db'), '--port', String(port), '--tenant', tenant, '--demo-devices', '20000', '--log-level', 'silent'],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = serve;
    let stdout = '';
    serve.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    const base = `http://127.0.0.1:${port}`;
    // From the moment the port answers until the welcome is printed (after seeding), time
    // requests one after another: each waits for whatever the event loop is doing.
    const latencies: number[] = [];
    const deadline = Date.now() + 60_000;
    while (!stdout.includes('listening on') && Date.now() < deadline) {
      const started = performance.now();
      const answered = await fetch(`${base}/beta/teamwork/devices`).then((r) => r.status, () => null);
      if (answered !== null) {
        assert.equal(answered, 401);
        latencies.push(performance.now() - started);
      } else {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    assert.match(stdout, /listening on/, 'the server finished seeding');
    serve.kill('SIGTERM');
    const during = latencies.slice(0, -1);
    assert.ok(during.length >= 20, `${during.length} requests were answered while the devices were seeded`);
    // A seeding that held the loop (all devices in one transaction) delays every request by
    // seconds. One slow request alone is the scheduler of a loaded 2-core machine (CI saw 259
    // ms once, with other test processes running), so the second slowest is held to 250 ms and
    // the slowest to a second.
    const [slowest, secondSlowest] = [...during].sort((a, b) => b - a);
    assert.ok(secondSlowest < 250, `the second slowest request while seeding took ${secondSlowest.toFixed(0)} ms`);
    assert.ok(slowest < 1000, `the slowest request while seeding took ${slowest.toFixed(0)} ms`);
  });

  test('a port in use is an error with a non-zero exit code, not a hang', async () => {
    const blocker = createServer();
    await new Promise<void>((resolveListen) => blocker.listen(0, '127.0.0.1', resolveListen));
    const { port } = blocker.address() as { port: number };
    try {
      const failure = await cliFailure('serve', '--db', join(dir, 'busy.db'), '--port', String(port), '--log-level', 'silent');
      assert.notEqual(failure.code, 0);
      assert.match(failure.stderr, /EADDRINUSE|in use/);
    } finally {
      await new Promise<void>((done) => blocker.close(() => done()));
    }
  });

  test('an invalid configuration is refused with a message and a non-zero exit code', async () => {
    const [failure, halfProduction] = await Promise.all([
      cliFailure('serve', '--db', join(dir, 'bad.db'), '--port', '0', '--tenant', 'not-a-guid', '--log-level', 'silent'),
      cliFailure('serve', '--db', join(dir, 'bad2.db'), '--port', '0', '--issuer', 'https://login.example.test/v2.0', '--log-level', 'silent'),
    ]);
    assert.notEqual(failure.code, 0);
    assert.match(failure.stderr, /--tenant/);
    assert.notEqual(halfProduction.code, 0);
    assert.match(halfProduction.stderr, /--issuer need --audience/);
  });
});
