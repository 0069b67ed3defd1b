import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { WorkItem } from '../../src/domain/agent-protocol.js';
import { artifactFor, type CatalogOffer } from '../../src/domain/software-catalog.js';
import { requestedRange } from '../../src/http/byte-ranges.js';
import { runCli } from '../helpers/cli-process.js';
import { requestOperation } from '../helpers/graph-operations.js';
import { expectGraphError } from '../helpers/http-assertions.js';
import { enrollAgent, enrollmentToken, uniqueHardware, type TestAgent } from '../helpers/test-agent.js';
import { startTestServer, tenantA, tenantB, type TestServer } from '../helpers/test-server.js';

/**
 * Artifacts from upload to download, over real HTTP on this pass's store: `catalog add
 * --artifact` (the CLI process, on the server's database), the work item that names the
 * artifact, and `GET /agent/v1/artifacts/{sha256}` with the device credential: whole, in
 * parts (Range, If-Range), 416, HEAD, and every way another caller may try to get it.
 */

let server: TestServer;
/** the uploaded file, offered as teamsClient 7.7.1 to tenant A */
let content: Buffer;
let sha256: string;
let device: TestAgent;

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function catalogAdd(args: string[]): Promise<string> {
  return (await runCli(['catalog', 'add', '--db', server.dbPath, '--software-type', 'teamsClient', ...args])).stdout;
}

/** GET (or another method) of an artifact path with a device credential (none when null). */
function download(path: string, credential: string | null, headers: Record<string, string> = {}, method = 'GET'): Promise<Response> {
  return fetch(server.url + path, { method, headers: { ...(credential ? { authorization: `Bearer ${credential}` } : {}), ...headers } });
}

async function updateWorkItem(agent: TestAgent, version: string): Promise<WorkItem> {
  const operationId = await requestOperation(server, agent.deviceId!, 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: version });
  const item = await agent.nextWork(0);
  assert.equal(item?.id, operationId);
  return item!;
}

before(async () => {
  server = await startTestServer();
  content = randomBytes(3 * 1024 * 1024 + 12_345);
  sha256 = sha(content);
  const file = join(server.dir, 'teams-7.7.1.tar.gz');
  writeFileSync(file, content);
  const out = await catalogAdd(['--tenant', tenantA, '--version', '7.7.1', '--artifact', file]);
  assert.match(out, new RegExp(`added: teamsClient 7\\.7\\.1 \\(artifact ${sha256}, ${content.length} bytes\\)`));
  device = await enrollAgent(server);
});

after(async () => {
  await server?.stop();
});

describe('the work item names the artifact', () => {
  test('an update of a version with an uploaded artifact carries its path on this server, SHA-256 and size, from poll to result', async () => {
    const agent = await enrollAgent(server);
    const item = await updateWorkItem(agent, '7.7.1');
    const expected = { url: `/agent/v1/artifacts/${sha256}`, sha256, size: content.length };
    assert.deepEqual(item.artifact, expected);
    assert.deepEqual((await agent.ackOk(item.id)).artifact, expected);
    const done = await agent.resultOk(item.id, { status: 'successful', installed: { teamsClient: '7.7.1' } });
    assert.deepEqual(done.artifact, expected);
  });

  test('a version without an artifact, and operations other than updates, carry artifact null', async () => {
    const agent = await enrollAgent(server);
    const item = await updateWorkItem(agent, '1.0.96.22');
    assert.equal(item.artifact, null);
    await agent.resultOk((await agent.ackOk(item.id)).id, { status: 'successful', installed: { teamsClient: '1.0.96.22' } });
    await requestOperation(server, agent.deviceId!, 'restart');
    assert.equal((await agent.nextWork(0))?.artifact, null);
  });

  test('an external entry gives its URL, SHA-256 and size; the server does not serve that SHA-256 itself', async () => {
    const external = { url: 'https://downloads.example.com/teams/7.7.2.tgz', sha256: 'ab'.repeat(32), size: 987_654 };
    assert.match(await catalogAdd(['--tenant', tenantA, '--version', '7.7.2', '--artifact-url', external.url, '--sha256', external.sha256, '--size', String(external.size)]), /added: teamsClient 7\.7\.2/);
    const agent = await enrollAgent(server);
    assert.deepEqual((await updateWorkItem(agent, '7.7.2')).artifact, external);
    await expectGraphError(await download(`/agent/v1/artifacts/${external.sha256}`, agent.credential), 404, 'itemNotFound');
  });

  test('the artifact is chosen when the update is accepted, from the most specific entry that has one', async () => {
    // The catalog's entries for 7.7.3: every device (an artifact), the device's type (none), its model (another artifact).
    const general = join(server.dir, 'general.bin');
    const forModel = join(server.dir, 'model.bin');
    writeFileSync(general, randomBytes(1000));
    writeFileSync(forModel, randomBytes(2000));
    await catalogAdd(['--tenant', tenantA, '--version', '7.7.3', '--artifact', general]);
    await catalogAdd(['--tenant', tenantA, '--version', '7.7.3', '--device-type', 'collaborationBar']);
    await catalogAdd(['--tenant', tenantA, '--version', '7.7.3', '--device-type', 'collaborationBar', '--model', 'RALLY-BAR', '--artifact', forModel]);
    const rally = await enrollAgent(server, { hardwareDetail: uniqueHardware({ manufacturer: 'logitech', model: 'rally-bar' }) });
    const other = await enrollAgent(server);
    assert.equal((await updateWorkItem(rally, '7.7.3')).artifact?.size, 2000, 'the model\'s entry, model compared without case');
    assert.equal((await updateWorkItem(other, '7.7.3')).artifact?.size, 1000, 'the type\'s entry has none: every device\'s applies');
  });
});

describe('downloading with the device credential', () => {
  test('whole: 200 with ETag (the SHA-256), Content-Length, Accept-Ranges and the exact bytes', async () => {
    const response = await download(`/agent/v1/artifacts/${sha256}`, device.credential);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('etag'), `"${sha256}"`);
    assert.equal(response.headers.get('content-length'), String(content.length));
    assert.equal(response.headers.get('accept-ranges'), 'bytes');
    assert.equal(response.headers.get('content-type'), 'application/octet-stream');
    assert.ok(response.headers.get('request-id'));
    const body = Buffer.from(await response.arrayBuffer());
    assert.equal(sha(body), sha256);
  });

  test('resumed with Range: 206 and Content-Range for a-, a-b and -n; If-Range with the ETag keeps the range', async () => {
    const cases: [string, number, number][] = [
      [`bytes=${content.length - 1000}-`, content.length - 1000, content.length - 1],
      ['bytes=10-19', 10, 19],
      ['bytes=-7', content.length - 7, content.length - 1],
      [`bytes=100-${content.length * 2}`, 100, content.length - 1],
      ['Bytes= 5-9 ', 5, 9],
    ];
    for (const [range, start, end] of cases) {
      const response = await download(`/agent/v1/artifacts/${sha256}`, device.credential, { range, 'if-range': `"${sha256}"` });
      assert.equal(response.status, 206, range);
      assert.equal(response.headers.get('content-range'), `bytes ${start}-${end}/${content.length}`, range);
      assert.equal(response.headers.get('content-length'), String(end - start + 1), range);
      assert.equal(response.headers.get('etag'), `"${sha256}"`);
      assert.deepEqual(Buffer.from(await response.arrayBuffer()), content.subarray(start, end + 1), range);
    }
  });

  test('If-Range naming other bytes (another tag, a weak tag, a date) sends the whole artifact: 200', async () => {
    for (const ifRange of ['"0000"', `W/"${sha256}"`, new Date().toUTCString()]) {
      const response = await download(`/agent/v1/artifacts/${sha256}`, device.credential, { range: 'bytes=100-', 'if-range': ifRange });
      assert.equal(response.status, 200, ifRange);
      assert.equal(response.headers.get('content-range'), null);
      assert.equal(sha(Buffer.from(await response.arrayBuffer())), sha256);
    }
  });

  test('a range that starts at or past the end is 416 with Content-Range bytes */size and a Graph error', async () => {
    for (const range of [`bytes=${content.length}-`, `bytes=${content.length + 5}-${content.length + 9}`, 'bytes=-0', 'bytes=99999999999999999999999-']) {
      const response = await download(`/agent/v1/artifacts/${sha256}`, device.credential, { range });
      assert.equal(response.headers.get('content-range'), `bytes */${content.length}`, range);
      await expectGraphError(response, 416, 'invalidRange');
    }
  });

  test('ranges a server may ignore (several, other units, backwards, garbage) send the whole artifact', async () => {
    for (const range of ['bytes=0-1,5-6', 'items=0-1', 'bytes=9-3', 'bytes=abc', 'bytes=-', 'bytes=1-2-3', 'bytes = 1-2', 'bytes=1 - 2']) {
      const response = await download(`/agent/v1/artifacts/${sha256}`, device.credential, { range });
      assert.equal(response.status, 200, range);
      assert.equal(Number(response.headers.get('content-length')), content.length);
      await response.arrayBuffer();
    }
  });

  test('HEAD: the headers of the GET and no body', async () => {
    const response = await download(`/agent/v1/artifacts/${sha256}`, device.credential, { range: 'bytes=0-99' }, 'HEAD');
    assert.equal(response.status, 206);
    assert.equal(response.headers.get('content-length'), '100');
    assert.equal(response.headers.get('content-range'), `bytes 0-99/${content.length}`);
    assert.equal((await response.arrayBuffer()).byteLength, 0);
  });

  test('a device holds at most two downloads at once; a third is 429 until one ends', async () => {
    // Large enough that an unread download cannot end in the socket buffers.
    const large = join(server.dir, 'large.bin');
    writeFileSync(large, '');
    truncateSync(large, 64 * 1024 * 1024);
    const out = await catalogAdd(['--tenant', tenantA, '--version', '7.9.0', '--artifact', large]);
    const largeSha = /artifact ([0-9a-f]{64})/.exec(out)![1];
    const agent = await enrollAgent(server);
    const path = `/agent/v1/artifacts/${largeSha}`;
    // Bodies left unread: the server's streams wait on backpressure, the downloads stay open.
    const open = [await download(path, agent.credential), await download(path, agent.credential)];
    assert.deepEqual(open.map((r) => r.status), [200, 200]);
    const third = await download(path, agent.credential);
    assert.ok(third.headers.get('retry-after'));
    await expectGraphError(third, 429, 'activityLimitReached');
    await open[0].body!.cancel();
    let again: Response | null = null;
    for (let attempt = 0; attempt < 50 && again?.status !== 200; attempt++) {
      await again?.arrayBuffer();
      await new Promise((resolve) => setTimeout(resolve, 50));
      again = await download(path, agent.credential);
    }
    assert.equal(again?.status, 200);
    assert.equal(sha(Buffer.from(await again!.arrayBuffer())), largeSha);
    await open[1].body!.cancel();
  });
});

describe('who may download', () => {
  const path = () => `/agent/v1/artifacts/${sha256}`;

  test('no credential, a malformed one, a wrong secret, an admin token: 401', async () => {
    const wrongSecret = device.credential!.replace(/\.[^.]+$/, `.${randomBytes(32).toString('base64url')}`);
    for (const authorization of [null, 'Bearer nonsense', `Bearer ${wrongSecret}`, `Bearer ${await server.token()}`]) {
      const response = await fetch(server.url + path(), { headers: authorization ? { authorization } : {} });
      await expectGraphError(response, 401, 'unauthenticated');
    }
  });

  test('a revoked device credential: 401', async () => {
    const agent = await enrollAgent(server);
    assert.equal((await download(path(), agent.credential, { range: 'bytes=0-0' })).status, 206);
    const revoked = await server.request(`/beta/teamwork/devices/${agent.deviceId}/revokeCredential`, { method: 'POST' });
    assert.equal(revoked.status, 204);
    await expectGraphError(await download(path(), agent.credential), 401, 'unauthenticated');
  });

  test("another tenant's device: 404, the same as an unknown artifact; once its own catalog has the same bytes, 200", async () => {
    const foreign = await enrollAgent(server, { enrollmentToken: await enrollmentToken(server, tenantB) });
    const refused = await expectGraphError(await download(path(), foreign.credential), 404, 'itemNotFound');
    const unknown = await expectGraphError(await download(`/agent/v1/artifacts/${'0'.repeat(64)}`, foreign.credential), 404, 'itemNotFound');
    assert.equal(refused.message.replace(sha256, 'X'), unknown.message.replace('0'.repeat(64), 'X'), 'nothing tells them apart');
    // Tenant B uploads the same bytes: stored once, now in its catalog too.
    const file = join(server.dir, 'same-bytes.bin');
    writeFileSync(file, content);
    await catalogAdd(['--tenant', tenantB, '--version', '7.7.1', '--artifact', file]);
    const response = await download(path(), foreign.credential, { range: 'bytes=0-15' });
    assert.equal(response.status, 206);
    assert.deepEqual(Buffer.from(await response.arrayBuffer()), content.subarray(0, 16));
  });

  test('unknown and malformed SHA-256 paths: 404, never a 500', async () => {
    for (const name of ['0'.repeat(64), sha256.toUpperCase(), 'abc', `${sha256}0`, '..%2F..%2Fteamwork-devices.db', '%00', 'x'.repeat(300), `${sha256}%2F..`]) {
      const response = await download(`/agent/v1/artifacts/${name}`, device.credential);
      await expectGraphError(response, 404, 'itemNotFound');
    }
    await expectGraphError(await download('/agent/v1/artifacts/', device.credential), 404, 'itemNotFound');
    const post = await fetch(`${server.url}/agent/v1/artifacts/${sha256}`, { method: 'POST', headers: { authorization: `Bearer ${device.credential}` } });
    await expectGraphError(post, 405, 'methodNotAllowed');
  });
});

describe('catalog add refuses what devices could not use', () => {
  test('an http URL to another host, a bad SHA-256 or size, a missing half, two versions, a missing or empty file: exit 1, nothing added', async () => {
    const empty = join(server.dir, 'empty.bin');
    writeFileSync(empty, '');
    const attempts: [string[], RegExp][] = [
      [['--version', '8.0.1', '--artifact-url', 'http://downloads.example.com/x', '--sha256', sha256, '--size', '5'], /must be https/],
      [['--version', '8.0.1', '--artifact-url', 'ftp://127.0.0.1/x', '--sha256', sha256, '--size', '5'], /must be https/],
      [['--version', '8.0.1', '--artifact-url', 'https://example.com/x', '--sha256', sha256.toUpperCase(), '--size', '5'], /64 lower-case hex/],
      [['--version', '8.0.1', '--artifact-url', 'https://example.com/x', '--sha256', sha256, '--size', '0'], /at least 1/],
      [['--version', '8.0.1', '--artifact-url', 'https://example.com/x', '--sha256', sha256, '--size', '-3'], /at least 1|size/],
      [['--version', '8.0.1', '--artifact-url', 'https://example.com/x', '--sha256', sha256], /needs --sha256 and --size/],
      [['--version', '8.0.1', '--sha256', sha256, '--size', '5'], /describe an --artifact-url/],
      [['--version', '8.0.1', '--version', '8.0.2', '--artifact', empty], /one --version/],
      [['--version', '8.0.1', '--artifact', join(server.dir, 'missing.bin')], /does not exist/],
      [['--version', '8.0.1', '--artifact', empty], /is empty/],
      [['--version', '7.7.1', '--artifact-url', 'https://example.com/x', '--sha256', sha256, '--size', '5'], /already in the catalog with artifact/],
    ];
    for (const [args, message] of attempts) {
      await assert.rejects(catalogAdd(['--tenant', tenantA, ...args]), (error: Error & { stderr?: string }) => {
        assert.match(error.stderr ?? '', message, args.join(' '));
        return true;
      });
    }
    const listed = JSON.parse((await runCli(['catalog', 'list', '--db', server.dbPath, '--tenant', tenantA, '--json'])).stdout) as { version: string }[];
    assert.equal(listed.filter((e) => e.version.startsWith('8.0.')).length, 0);
  });

  test('http to a loopback address is accepted (a local mirror)', async () => {
    const out = await catalogAdd(['--tenant', tenantA, '--version', '8.1.0', '--artifact-url', 'http://127.0.0.1:9/x.tgz', '--sha256', sha256, '--size', '5']);
    assert.match(out, /added: teamsClient 8\.1\.0 \(artifact [0-9a-f]{64}, 5 bytes, at http:\/\/127\.0\.0\.1:9\/x\.tgz\)/);
  });
});

describe('the rules, as functions', () => {
  test('requestedRange', () => {
    const etag = '"e"';
    assert.deepEqual(requestedRange(undefined, undefined, etag, 10), { kind: 'whole' });
    assert.deepEqual(requestedRange('bytes=2-', undefined, etag, 10), { kind: 'part', start: 2, end: 9 });
    assert.deepEqual(requestedRange('bytes=2-', ' "e" ', etag, 10), { kind: 'part', start: 2, end: 9 });
    assert.deepEqual(requestedRange('bytes=2-', '"f"', etag, 10), { kind: 'whole' });
    assert.deepEqual(requestedRange('bytes=-20', undefined, etag, 10), { kind: 'part', start: 0, end: 9 });
    assert.deepEqual(requestedRange('bytes=9-9', undefined, etag, 10), { kind: 'part', start: 9, end: 9 });
    assert.deepEqual(requestedRange('bytes=10-10', undefined, etag, 10), { kind: 'unsatisfiable' });
    assert.deepEqual(requestedRange('bytes=3-2', undefined, etag, 10), { kind: 'whole' });
  });

  test('artifactFor: the most specific entry with an artifact that offers the version to the device', () => {
    const artifact = (size: number) => ({ sha256: 'a'.repeat(64), size, url: null });
    const entry = (overrides: Partial<CatalogOffer>): CatalogOffer => ({ softwareType: 'teamsClient', version: '1', deviceType: null, model: null, artifact: null, ...overrides });
    const entries = [
      entry({ artifact: artifact(1) }),
      entry({ deviceType: 'teamsRoom', artifact: artifact(2) }),
      entry({ deviceType: 'teamsRoom', model: 'hub', artifact: artifact(3) }),
      entry({ model: 'bar', artifact: artifact(4) }),
      entry({ deviceType: 'ipPhone' }),
      entry({ version: '2', artifact: artifact(5) }),
    ];
    assert.equal(artifactFor(entries, 'teamsClient', '1', 'teamsRoom', 'HUB')?.size, 3);
    assert.equal(artifactFor(entries, 'teamsClient', '1', 'teamsRoom', 'other')?.size, 2);
    assert.equal(artifactFor(entries, 'teamsClient', '1', 'teamsRoom', 'bar')?.size, 4, 'a model is narrower than a device type');
    assert.equal(artifactFor(entries, 'teamsClient', '1', 'ipPhone', null)?.size, 1);
    assert.equal(artifactFor(entries, 'teamsClient', '2', 'ipPhone', null)?.size, 5);
    assert.equal(artifactFor(entries, 'firmware', '1', 'ipPhone', null), null);
    assert.equal(artifactFor(entries, 'teamsClient', '3', 'ipPhone', null), null);
  });
});
