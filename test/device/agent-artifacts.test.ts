/**
 * The real agent process installing real artifacts from a real server (this pass's store):
 * a tarball built here with `tar czf`, uploaded with `catalog add --artifact`, downloaded by
 * the agent with its credential and checked, unpacked by the install command into a
 * versioned directory whose `current` symlink is switched atomically. Also: an artifact
 * tampered with in the store and an external one whose SHA-256 is wrong fail the operation
 * with `artifactCorrupt`; an external one is fetched without the device credential; a
 * download cut by killing the agent resumes with `Range` from where the partial file ends.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readlinkSync, readSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli-process.js';
import { graphOperation, requestOperation } from '../helpers/graph-operations.js';
import { RecordingProxy } from '../helpers/recording-proxy.js';
import { enrollmentToken } from '../helpers/test-agent.js';
import { changeDatabase, testStore } from '../helpers/test-database.js';
import { startTestServer, tenantA, type TestServer } from '../helpers/test-server.js';
import { AgentProcess } from '../helpers/agent-process.js';
import { waitFor } from '../helpers/wait-for.js';

let server: TestServer;
let work: string;

function agentProcess(name: string, token: string, url = server.url): AgentProcess {
  return new AgentProcess(server, work, name, token, { url, commandTimeoutSeconds: 30 });
}

/** A tarball of a version: VERSION and a payload of `payloadBytes` random bytes. */
function tarball(version: string, payloadBytes = 10_000): { path: string; sha256: string; size: number; payload: Buffer } {
  const source = join(work, 'build', version);
  mkdirSync(source, { recursive: true });
  writeFileSync(join(source, 'VERSION'), `${version}\n`);
  const payload = randomBytes(payloadBytes);
  writeFileSync(join(source, 'payload.bin'), payload);
  const path = join(work, `teams-${version}.tar.gz`);
  execFileSync('tar', ['czf', path, '-C', source, '.']);
  const bytes = readFileSync(path);
  return { path, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length, payload };
}

async function catalogAdd(version: string, artifact: string[]): Promise<void> {
  await runCli(['catalog', 'add', '--db', server.dbPath, '--tenant', tenantA, '--software-type', 'teamsClient', '--version', version, ...artifact]);
}

async function settled(deviceId: string, operationId: string, timeoutMs = 30_000) {
  return waitFor(`operation ${operationId} to end`, async () => {
    const operation = await graphOperation(server, deviceId, operationId);
    return ['successful', 'failed', 'cancelled'].includes(operation.status) && operation;
  }, { timeoutMs, intervalMs: 100 });
}

function sha256Of(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Serves files by path over plain http on a loopback address: an external artifact host. */
async function fileHost(files: Record<string, string>): Promise<{ url: string; requests: { path: string; authorization: boolean }[]; close(): Promise<void> }> {
  const requests: { path: string; authorization: boolean }[] = [];
  const host = http.createServer((request, response) => {
    requests.push({ path: request.url ?? '', authorization: request.headers.authorization !== undefined });
    const file = files[request.url ?? ''];
    if (!file) return void response.writeHead(404).end();
    response.writeHead(200, { 'content-length': statSync(file).size }).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(host.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise((resolve) => {
      host.closeAllConnections();
      host.close(() => resolve());
    }),
  };
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'twd-agent-artifacts-'));
  // Unpacks the verified artifact into <root>/versions/<version> (through a temporary directory,
  // so a version directory is whole or absent) and switches <root>/current to it atomically.
  writeFileSync(join(work, 'install.sh'), `set -e
root="$1"
test -n "$TWD_ARTIFACT"
echo "progress 10 unpacking $TWD_VERSION"
rm -rf "$root/versions/$TWD_VERSION.tmp"
mkdir -p "$root/versions/$TWD_VERSION.tmp"
tar xzf "$TWD_ARTIFACT" -C "$root/versions/$TWD_VERSION.tmp"
rm -rf "$root/versions/$TWD_VERSION"
mv "$root/versions/$TWD_VERSION.tmp" "$root/versions/$TWD_VERSION"
printf '%s\\n' "$TWD_ARTIFACT" > "$root.artifact"
echo "progress 80 switching"
ln -sfn "versions/$TWD_VERSION" "$root/current.new"
mv -T "$root/current.new" "$root/current"
`);
  server = await startTestServer();
});

after(async () => {
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('the agent installs artifacts', () => {
  it('downloads the uploaded tarball with its credential, checks it, and the install unpacks it and switches current', async () => {
    const artifact = tarball('6.0.0');
    await catalogAdd('6.0.0', ['--artifact', artifact.path]);
    const agent = agentProcess('a', await enrollmentToken(server));
    agent.start();
    try {
      const deviceId = await agent.enrolled();
      const operationId = await requestOperation(server, deviceId, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: '6.0.0' });
      const operation = await settled(deviceId, operationId);
      assert.equal(operation.status, 'successful', `${JSON.stringify(operation.error)}\n${agent.output}`);
      assert.equal(agent.installed(), '6.0.0');
      assert.equal(readlinkSync(join(agent.root, 'current')), 'versions/6.0.0');
      assert.deepEqual(readFileSync(join(agent.root, 'current', 'payload.bin')), artifact.payload);
      // TWD_ARTIFACT was the verified file in the state dir's downloads, named by its SHA-256.
      const given = readFileSync(`${agent.root}.artifact`, 'utf8').trim();
      assert.equal(given, join(agent.stateDir, 'downloads', artifact.sha256));
      assert.equal(sha256Of(given), artifact.sha256);
    } finally {
      await agent.kill();
    }
  });

  it('an artifact tampered with in the store fails the update with artifactCorrupt, and nothing is installed', async () => {
    const artifact = tarball('6.1.0');
    await catalogAdd('6.1.0', ['--artifact', artifact.path]);
    // One byte changed where the service keeps it, the size unchanged: only the SHA-256 can tell.
    if (testStore === 'postgres') {
      await changeDatabase(server.dbPath, `UPDATE artifact_chunks SET data = set_byte(data, 100, (get_byte(data, 100) + 1) % 256)
        WHERE n = 0 AND upload_id = (SELECT upload_id FROM artifact_blobs WHERE sha256 = ?)`, [artifact.sha256]);
    } else {
      flipByte(join(dirname(server.dbPath), 'artifacts', artifact.sha256), 100);
    }
    const agent = agentProcess('b', await enrollmentToken(server));
    agent.start();
    try {
      const deviceId = await agent.enrolled();
      const operationId = await requestOperation(server, deviceId, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: '6.1.0' });
      const operation = await settled(deviceId, operationId);
      assert.equal(operation.status, 'failed', agent.output);
      assert.equal(operation.error?.code, 'artifactCorrupt');
      assert.match(operation.error?.message ?? '', new RegExp(`SHA-256 ${artifact.sha256}`));
      assert.equal(agent.installed(), null);
      assert.ok(!existsSync(join(agent.stateDir, 'downloads', artifact.sha256)), 'the corrupt file is not kept');
    } finally {
      await agent.kill();
    }
  });

  it('an external artifact is fetched from its URL without the device credential; one whose SHA-256 is wrong is artifactCorrupt', async () => {
    const good = tarball('6.2.0');
    const wrong = tarball('6.3.0');
    const host = await fileHost({ '/teams-6.2.0.tgz': good.path, '/teams-6.3.0.tgz': wrong.path });
    try {
      await catalogAdd('6.2.0', ['--artifact-url', `${host.url}/teams-6.2.0.tgz`, '--sha256', good.sha256, '--size', String(good.size)]);
      await catalogAdd('6.3.0', ['--artifact-url', `${host.url}/teams-6.3.0.tgz`, '--sha256', good.sha256.replace(/^./, (c) => (c === '0' ? '1' : '0')), '--size', String(wrong.size)]);
      const agent = agentProcess('c', await enrollmentToken(server));
      agent.start();
      try {
        const deviceId = await agent.enrolled();
        const installed = await requestOperation(server, deviceId, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: '6.2.0' });
        assert.equal((await settled(deviceId, installed)).status, 'successful', agent.output);
        assert.equal(agent.installed(), '6.2.0');
        const corrupt = await requestOperation(server, deviceId, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: '6.3.0' });
        const failed = await settled(deviceId, corrupt);
        assert.equal(failed.status, 'failed');
        assert.equal(failed.error?.code, 'artifactCorrupt');
        assert.equal(agent.installed(), '6.2.0', 'the installed version is untouched');
        assert.deepEqual(host.requests.map((r) => r.path).sort(), ['/teams-6.2.0.tgz', '/teams-6.3.0.tgz']);
        assert.ok(host.requests.every((r) => !r.authorization), 'the device credential never leaves for another host');
      } finally {
        await agent.kill();
      }
    } finally {
      await host.close();
    }
  });

  it('a download cut by killing the agent resumes with Range from where its partial file ends, in the same operation', async (t) => {
    const artifact = tarball('6.4.0', 24 * 1024 * 1024);
    await catalogAdd('6.4.0', ['--artifact', artifact.path]);
    // The agent talks to the server through a proxy that records what the server was asked and
    // paces downloads, so the agent can be killed in the middle of one.
    const proxy = new RecordingProxy(server.url, 6 * 1024 * 1024);
    await proxy.start();
    const agent = agentProcess('d', await enrollmentToken(server), proxy.url);
    try {
      agent.start();
      const deviceId = await agent.enrolled();
      const partial = join(agent.stateDir, 'downloads', `${artifact.sha256}.part`);
      const first = await requestOperation(server, deviceId, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: '6.4.0' });
      const cutAt = await waitFor('a third of the artifact downloaded', async () => {
        const have = existsSync(partial) ? statSync(partial).size : 0;
        return have > artifact.size / 3 && have;
      }, { timeoutMs: 20_000, intervalMs: 20 });
      await agent.kill('SIGKILL');
      const kept = statSync(partial).size;
      assert.ok(kept >= cutAt && kept < artifact.size, `the partial file holds ${kept} of ${artifact.size} bytes`);

      agent.start();
      // The restarted agent finds the update still running, its install not begun: it goes on
      // with the same operation, the download continuing from the partial file.
      const operation = await settled(deviceId, first);
      assert.equal(operation.status, 'successful', `${JSON.stringify(operation.error)}\n${agent.output}`);
      assert.equal(agent.installed(), '6.4.0');
      assert.equal(sha256Of(join(agent.stateDir, 'downloads', artifact.sha256)), artifact.sha256);
      assert.deepEqual(readFileSync(join(agent.root, 'current', 'payload.bin')), artifact.payload);

      const downloads = proxy.downloads();
      t.diagnostic(`killed with ${kept} of ${artifact.size} bytes; downloads the server saw: ${JSON.stringify(downloads.map(({ range, status, bytes }) => ({ range, status, bytes })))}`);
      const resumed = downloads.find((d) => d.range !== null);
      assert.ok(resumed, JSON.stringify(downloads));
      assert.equal(resumed.status, 206);
      assert.equal(resumed.ifRange, `"${artifact.sha256}"`);
      const from = Number(/^bytes=(\d+)-$/.exec(resumed.range!)?.[1]);
      assert.ok(from >= kept && from < artifact.size, `resumed from byte ${from}, the partial file held ${kept}`);
      const sent = downloads.reduce((sum, d) => sum + d.bytes, 0);
      assert.ok(sent < artifact.size * 1.5, `${sent} bytes sent for a ${artifact.size}-byte artifact: it resumed, not restarted`);
    } finally {
      await agent.kill();
      await proxy.stop();
    }
  });
});

/** Changes one byte of a file in place (its size stays). */
function flipByte(path: string, position: number): void {
  const fd = openSync(path, 'r+');
  try {
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, position);
    byte[0] = (byte[0] + 1) % 256;
    writeSync(fd, byte, 0, 1, position);
  } finally {
    closeSync(fd);
  }
}
