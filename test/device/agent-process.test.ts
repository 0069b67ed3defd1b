/**
 * The real device agent (`teamwork-devices agent`) as a real process against a real server,
 * installing real files: its install command writes a versioned directory and switches a
 * `current` symlink atomically, its version command reads it back. Covered: enrollment and
 * the state dir, a successful update and its inventory, a failing install, cancel (the
 * command's process group is killed), diagnostics, restart, the agent killed mid-install and
 * started again, a revoked credential, and the server restarted while the agent waits.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { binPath } from '../helpers/cli-process.js';
import { cancelOperation, graphDevice, graphOperation, requestOperation } from '../helpers/graph-operations.js';
import { enrollmentToken } from '../helpers/test-agent.js';
import { startTestServer, tenantA, type TestServer } from '../helpers/test-server.js';
import { AgentProcess, type AgentProcessOptions } from '../helpers/agent-process.js';
import { waitFor } from '../helpers/wait-for.js';

const versions = ['1.0.0', '2.0.0', '3.0.0', '4.0.0', '5.0.0'];

let server: TestServer;
let work: string;

/** An agent of this file: its restart and diagnostics commands leave traces beside its software root. */
function agentProcess(name: string, token: string, options: AgentProcessOptions = {}): AgentProcess {
  const root = join(work, name, 'software');
  return new AgentProcess(server, work, name, token, {
    ...options,
    extra: { restart: `touch ${root}.restarted`, diagnostics: `echo "diagnostics of ${name}"; echo "line two"` },
  });
}

async function settled(deviceId: string, operationId: string, timeoutMs = 20_000) {
  return waitFor(`operation ${operationId} to end`, async () => {
    const operation = await graphOperation(server, deviceId, operationId);
    return ['successful', 'failed', 'cancelled'].includes(operation.status) && operation;
  }, { timeoutMs, intervalMs: 100 });
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'twd-agent-'));
  // Installs TWD_VERSION into <root>/versions/<version> and switches <root>/current to it
  // atomically (a new symlink renamed over the old). FAIL_<version> makes it fail; SLOW makes it wait.
  writeFileSync(join(work, 'install.sh'), `set -e
root="$1"
echo "progress 10 preparing $TWD_VERSION"
test -z "$TWD_ARTIFACT"
echo $$ > "$root.pid" 2>/dev/null || true
if [ -f "$root.slow" ]; then sleep 30; fi
if [ -f "$root.fail" ]; then echo "disk full while writing $TWD_VERSION" >&2; exit 3; fi
mkdir -p "$root/versions/$TWD_VERSION"
printf '%s\\n' "$TWD_VERSION" > "$root/versions/$TWD_VERSION/VERSION"
echo "progress 80 switching"
ln -sfn "versions/$TWD_VERSION" "$root/current.new"
mv -T "$root/current.new" "$root/current"
if [ -f "$root.hang" ]; then sleep 30; fi
echo "installed $TWD_VERSION for $TWD_OPERATION_ID ($TWD_SOFTWARE_TYPE)"
`);
  server = await startTestServer();
  for (const version of versions) {
    await server.store.addCatalogEntry({ tenantId: tenantA, softwareType: 'teamsClient', version, deviceType: null, model: null, createdDateTime: new Date().toISOString() });
  }
});

after(async () => {
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('the device agent as a process', () => {
  it('enrolls, keeps its identity 0600 in a 0700 state dir, installs an update for real and reports what is installed', async () => {
    const agent = agentProcess('a', await enrollmentToken(server));
    agent.start();
    try {
      const deviceId = await agent.enrolled();
      await waitFor('the identity kept', async () => existsSync(join(agent.stateDir, 'identity.json')));
      assert.equal(statSync(agent.stateDir).mode & 0o777, 0o700);
      assert.equal(statSync(join(agent.stateDir, 'identity.json')).mode & 0o777, 0o600);
      const identity = JSON.parse(readFileSync(join(agent.stateDir, 'identity.json'), 'utf8')) as { deviceId: string; credential: string };
      assert.equal(identity.deviceId, deviceId);
      assert.match(identity.credential, /^twd-device\./);

      const operationId = await requestOperation(server, deviceId, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: '2.0.0' });
      const operation = await settled(deviceId, operationId);
      assert.equal(operation.status, 'successful', JSON.stringify(operation.error));
      assert.equal(agent.installed(), '2.0.0');
      assert.equal(readlinkSync(join(agent.root, 'current')), 'versions/2.0.0');
      const configuration = await graphDevice<{ softwareVersions: Record<string, string | null> }>(server, deviceId, 'configuration');
      assert.equal(configuration.softwareVersions.teamsSoftwareVersion ?? configuration.softwareVersions.teamsClientSoftwareVersion, '2.0.0');

      // Started again, it is the same device (its credential, no second enrollment).
      await agent.kill('SIGTERM');
      agent.start();
      await waitFor('the restarted agent polling', async () => agent.output.includes('re-enrolled'), { timeoutMs: 10_000 });
      const again = await requestOperation(server, deviceId, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: '3.0.0' });
      assert.equal((await settled(deviceId, again)).status, 'successful');
      assert.equal(agent.installed(), '3.0.0');
    } finally {
      await agent.kill();
    }
  });

  it('reports a failing install with its stderr, and a cancel kills the install command', async () => {
    const agent = agentProcess('b', await enrollmentToken(server));
    agent.start();
    try {
      const deviceId = await agent.enrolled();
      writeFileSync(`${agent.root}.fail`, '');
      const failing = await requestOperation(server, deviceId, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: '2.0.0' });
      const failed = await settled(deviceId, failing);
      assert.equal(failed.status, 'failed');
      assert.equal(failed.error?.code, 'installFailed');
      assert.match(failed.error?.message ?? '', /exited with 3: disk full while writing 2\.0\.0/);
      rmSync(`${agent.root}.fail`);

      writeFileSync(`${agent.root}.slow`, '');
      const slow = await requestOperation(server, deviceId, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: '4.0.0' });
      await waitFor('the install running', async () => existsSync(`${agent.root}.pid`) && (await graphOperation(server, deviceId, slow)).status === 'inProgress', { timeoutMs: 10_000 });
      const pid = Number(readFileSync(`${agent.root}.pid`, 'utf8'));
      assert.equal((await cancelOperation(server, deviceId, slow)).status, 202);
      assert.equal((await settled(deviceId, slow)).status, 'cancelled');
      await waitFor('the install command gone', async () => !alive(pid), { timeoutMs: 5000 });
      assert.equal(agent.installed(), null, 'nothing was installed');
      rmSync(`${agent.root}.slow`);
    } finally {
      await agent.kill();
    }
  });

  it('runs diagnostics and restart with their commands', async () => {
    const agent = agentProcess('c', await enrollmentToken(server));
    agent.start();
    try {
      const deviceId = await agent.enrolled();
      const diagnostics = await requestOperation(server, deviceId, 'runDiagnostics');
      assert.equal((await settled(deviceId, diagnostics)).status, 'successful');
      const result = await (await server.request(`/beta/teamwork/devices/${deviceId}/operations/${diagnostics}/result`)).json() as { diagnostics: { output: string } };
      assert.equal(result.diagnostics.output, 'diagnostics of c\nline two\n');

      const restart = await requestOperation(server, deviceId, 'restart');
      assert.equal((await settled(deviceId, restart)).status, 'successful');
      await waitFor("the restart command ran", async () => existsSync(`${agent.root}.restarted`));
    } finally {
      await agent.kill();
    }
  });

  it('killed mid-install and started again, reports the operation by what is installed, once', async () => {
    const agent = agentProcess('d', await enrollmentToken(server));
    agent.start();
    const deviceId = await agent.enrolled();
    writeFileSync(`${agent.root}.hang`, '');
    const operationId = await requestOperation(server, deviceId, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: '5.0.0' });
    await waitFor('the install done but the command still running', async () => agent.installed() === '5.0.0' && (await graphOperation(server, deviceId, operationId)).status === 'inProgress', { timeoutMs: 10_000 });
    await agent.kill('SIGKILL');
    rmSync(`${agent.root}.hang`);
    agent.start();
    try {
      const operation = await settled(deviceId, operationId);
      assert.equal(operation.status, 'successful');
      // The restarted agent takes the running operation up without acknowledging it again.
      assert.ok(agent.output.includes(`resuming operation ${operationId}`), agent.output);
      assert.ok(!agent.output.includes('could not be acknowledged'), agent.output);
    } finally {
      await agent.kill();
    }
  });

  it('keeps waiting while the server restarts, then installs', async () => {
    const agent = agentProcess('e', await enrollmentToken(server));
    agent.start();
    try {
      const deviceId = await agent.enrolled();
      await server.restart();
      const operationId = await requestOperation(server, deviceId, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: '2.0.0' });
      assert.equal((await settled(deviceId, operationId, 30_000)).status, 'successful');
      assert.equal(agent.installed(), '2.0.0');
    } finally {
      await agent.kill();
    }
  });

  it('stops and says so when its credential is revoked', async () => {
    const agent = agentProcess('f', await enrollmentToken(server));
    agent.start();
    const deviceId = await agent.enrolled();
    const revoked = await server.request(`/beta/teamwork/devices/${deviceId}/revokeCredential`, { method: 'POST' });
    assert.equal(revoked.status, 204);
    const code = await Promise.race([agent.exit, new Promise((resolve) => setTimeout(() => resolve('still running'), 15_000))]);
    assert.equal(code, 3, agent.output);
    assert.match(agent.output, /credential/);
  });

  it('stops an install that runs past commandTimeoutSeconds (its process group killed): failed, timeout', async () => {
    const agent = agentProcess('g', await enrollmentToken(server), { commandTimeoutSeconds: 2 });
    agent.start();
    try {
      const deviceId = await agent.enrolled();
      writeFileSync(`${agent.root}.slow`, '');
      const operationId = await requestOperation(server, deviceId, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: '2.0.0' });
      const operation = await settled(deviceId, operationId);
      assert.equal(operation.status, 'failed');
      assert.equal(operation.error?.code, 'timeout');
      const pid = Number(readFileSync(`${agent.root}.pid`, 'utf8'));
      await waitFor('the install command gone', async () => !alive(pid), { timeoutMs: 5000 });
      assert.equal(agent.installed(), null);
    } finally {
      await agent.kill();
    }
  });

  it('reads the hardware it is not told from the host: its machine id is the device’s uniqueId', { skip: !existsSync('/etc/machine-id') && 'no /etc/machine-id here' }, async () => {
    const machineId = readFileSync('/etc/machine-id', 'utf8').trim();
    const agent = agentProcess('h', await enrollmentToken(server), { hostHardware: machineId });
    agent.start();
    try {
      const deviceId = await agent.enrolled();
      const device = await graphDevice<{ hardwareDetail: { uniqueId: string; macAddresses: string[] } }>(server, deviceId);
      assert.equal(device.hardwareDetail.uniqueId, machineId);
      assert.ok(device.hardwareDetail.macAddresses.every((mac) => /^[0-9A-F]{2}(:[0-9A-F]{2}){5}$/.test(mac)), JSON.stringify(device.hardwareDetail));
    } finally {
      await agent.kill();
    }
  });

  it('refuses a bad config with a clear message before touching the server', async () => {
    writeFileSync(join(work, 'bad.json'), JSON.stringify({ device: { deviceType: 'toaster' } }));
    const child = spawn(process.execPath, [binPath, 'agent', '--url', server.url, '--enrollment-token', 'x', '--state-dir', join(work, 'bad'), '--config', join(work, 'bad.json')]);
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(code, 2);
    assert.match(stderr, /device\.deviceType must be one of/);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
