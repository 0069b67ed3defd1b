import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from '../helpers/cli-process.js';
import { expectGraphError } from '../helpers/http-assertions.js';
import { TestAgent, enrollBody } from '../helpers/test-agent.js';
import { queryDatabase, scratchDatabase } from '../helpers/test-database.js';
import { tenantA } from '../helpers/test-server.js';

/**
 * The real `serve` command killed with SIGKILL in the middle of an operation and started
 * again on the same database and port: queued and running operations continue, nothing is
 * lost, nothing runs twice, and the 409 rule still holds.
 */

// dist/test/engine/restart.test.js → repository root
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = join(root, 'bin', 'teamwork-devices.js');
const run = promisify(execFile);

let db: string;
let removeDatabase: () => Promise<void>;
const children: ChildProcess[] = [];

before(async () => {
  ({ db, remove: removeDatabase } = await scratchDatabase('twd-restart-'));
});

after(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((done) => child.once('exit', done));
    }
  }
  await removeDatabase?.();
});

async function cli(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [bin, ...args], { cwd: root, timeout: 20_000 });
  return stdout.trim();
}

/** Starts `serve` and resolves once it listens; output is kept for failure messages. */
async function serve(port: number): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, [bin, 'serve', '--db', db, '--port', String(port), '--tenant', tenantA, '--log-level', 'warn'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  await new Promise<void>((ready, fail) => {
    const timer = setTimeout(() => finish(new Error(`serve did not start within 15 s:\n${output}`)), 15_000);
    const check = () => {
      if (/listening on/.test(output)) finish(null);
    };
    const exited = (code: number | null, signal: NodeJS.Signals | null) =>
      finish(new Error(`serve exited (${code ?? signal}) before listening:\n${output}`));
    const finish = (error: Error | null) => {
      clearTimeout(timer);
      child.stdout!.off('data', check);
      child.off('exit', exited);
      if (error) fail(error);
      else ready();
    };
    child.stdout!.on('data', check);
    child.once('exit', exited);
  });
  return { child, output: () => output };
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGKILL');
  await exited;
}

describe('server restart mid-operation', () => {
  test('SIGKILL with one operation running and one queued: both finish once, nothing lost, nothing duplicated', async () => {
    // Both tokens are made with the CLI before the server runs, against the same database.
    const enrollmentToken = await cli('enrollment-token', 'create', '--db', db, '--tenant', tenantA, '--ttl', '1h');
    assert.match(enrollmentToken, /^twd-enroll\.\S+$/);
    const adminToken = await cli('token', '--db', db, '--tenant', tenantA);
    assert.match(adminToken, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    await cli('catalog', 'add', '--db', db, '--tenant', tenantA, '--software-type', 'teamsClient', '--version', '1.0.96.22');

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const graph = (path: string, init: RequestInit = {}) =>
      fetch(url + path, { ...init, headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json', ...(init.headers as Record<string, string>) } });
    const getOperation = async (deviceId: string, operationId: string) => {
      const response = await graph(`/beta/teamwork/devices/${deviceId}/operations/${operationId}`);
      assert.equal(response.status, 200);
      return (await response.json()) as { status: string; startedDateTime: string | null; completedDateTime: string | null; error: unknown };
    };
    const accept = async (deviceId: string, action: string, body?: unknown) => {
      const response = await graph(`/beta/teamwork/devices/${deviceId}/${action}`, { method: 'POST', body: body === undefined ? undefined : JSON.stringify(body) });
      assert.equal(response.status, 202, await response.text());
      return response.headers.get('location')!.split('/').pop()!;
    };

    let server = await serve(port);
    const agent = new TestAgent(url);
    const { deviceId } = await agent.enrollOk(enrollBody(enrollmentToken, { installed: { teamsClient: '1.0.96.1' } }), 201);

    const update = await accept(deviceId, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: '1.0.96.22' });
    const restart = await accept(deviceId, 'restart');
    assert.equal((await agent.nextWork(0))?.id, update);
    const acked = await agent.ackOk(update);
    await agent.progress(update, { percent: 70, message: 'installing' });

    // Crash.
    await kill(server.child);
    server = await serve(port);

    // The queued restart still blocks a duplicate: the 409 state survived.
    await expectGraphError(await graph(`/beta/teamwork/devices/${deviceId}/restart`, { method: 'POST' }), 409, 'conflict');
    // The running update is still running, with its original start.
    const running = await getOperation(deviceId, update);
    assert.equal(running.status, 'inProgress');
    assert.equal(running.startedDateTime, acked.startedDateTime);
    assert.equal((await getOperation(deviceId, restart)).status, 'queued');

    // The device's credential still works; its poll hands back the running update (not acked again).
    const resumed = await agent.nextWork(0);
    assert.equal(resumed?.id, update);
    assert.equal(resumed?.status, 'inProgress');
    await expectGraphError(await agent.ack(update), 409, 'conflict');
    const finished = await agent.resultOk(update, { status: 'successful', installed: { teamsClient: '1.0.96.22' } });
    assert.equal(finished.status, 'successful');

    // Then the restart, exactly once.
    const next = await agent.nextWork(0);
    assert.equal(next?.id, restart);
    await agent.ackOk(restart);
    await agent.resultOk(restart, { status: 'successful' });
    assert.equal(await agent.nextWork(0), null);

    const rows = await queryDatabase<{ id: string; status: string; started_at: unknown; completed_at: unknown; operation_type: string }>(
      db, 'SELECT * FROM operations WHERE device_id = ? ORDER BY seq', [deviceId],
    );
    assert.deepEqual(rows.map((r) => [r.id, r.operation_type, r.status]), [
      [update, 'softwareUpdate', 'successful'],
      [restart, 'deviceRestart', 'successful'],
    ]);
    for (const row of rows) {
      assert.ok(row.started_at, `${row.id} has a startedDateTime`);
      assert.ok(row.completed_at, `${row.id} has a completedDateTime`);
    }
    const updateDone = await getOperation(deviceId, update);
    assert.equal(updateDone.status, 'successful');
    assert.equal(updateDone.startedDateTime, acked.startedDateTime, 'started once: the start before the crash is kept');
    assert.equal(updateDone.error, null);
    const list = await graph(`/beta/teamwork/devices/${deviceId}/operations`);
    assert.equal(((await list.json()) as { value: unknown[] }).value.length, 2);

    // Graph shows the new version.
    const configuration = await graph(`/beta/teamwork/devices/${deviceId}/configuration`);
    const versions = ((await configuration.json()) as { softwareVersions: Record<string, string | null> }).softwareVersions;
    assert.equal(versions.teamsClientSoftwareVersion, '1.0.96.22');

    await kill(server.child);
  });
});
