import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { expectGraphError } from '../helpers/http-assertions.js';
import { plainRequest } from '../helpers/plain-http.js';
import { enrollAgent } from '../helpers/test-agent.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait-for.js';
import { logCapture } from '../helpers/log-capture.js';

/**
 * The HTTP edge against clients that hold connections instead of using them: a body sent a
 * byte at a time is answered 408 and closed within --request-timeout, a connection past
 * --max-connections is closed at once (with a warning in the log), long-polls and idle
 * keep-alive connections are not mistaken for either. And the headers every reply carries.
 */

interface RawExchange {
  socket: net.Socket;
  /** everything the server sent, and when it closed the connection */
  closed: Promise<{ text: string; at: number }>;
}

/** A raw TCP connection to the server that sends `bytes` and records what comes back. */
function rawConnection(url: string, bytes = ''): Promise<RawExchange> {
  const { hostname, port } = new URL(url);
  return new Promise((connected, fail) => {
    const socket = net.connect(Number(port), hostname);
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    const closed = new Promise<{ text: string; at: number }>((done) => socket.once('close', () => done({ text, at: Date.now() })));
    socket.once('error', () => {});
    socket.once('connect', () => {
      if (bytes) socket.write(bytes);
      connected({ socket, closed });
    });
    socket.once('error', fail);
  });
}

/** A raw HTTP/1.1 reply split into status, lower-cased headers and body. */
function parseRawReply(text: string): { status: number; headers: Record<string, string>; body: string } {
  const [head, ...rest] = text.split('\r\n\r\n');
  const [statusLine, ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
}

function assertRawGraphError(text: string, status: number, code: string): Record<string, string> {
  const reply = parseRawReply(text);
  assert.equal(reply.status, status, text);
  const body = JSON.parse(reply.body) as { error: { code: string; innerError: Record<string, string> } };
  assert.equal(body.error.code, code);
  assert.equal(body.error.innerError['request-id'], reply.headers['request-id']);
  return reply.headers;
}

describe('request timeout (--request-timeout 1s)', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ config: { requestTimeoutMs: 1000 } });
  });

  after(async () => {
    await server?.stop();
  });

  test('a body sent one byte every 300 ms is answered 408 with the Graph body and the connection closed within the timeout', { timeout: 10_000 }, async () => {
    const agent = await enrollAgent(server);
    const { host } = new URL(server.url);
    const started = Date.now();
    const { socket, closed } = await rawConnection(server.url,
      `POST /agent/v1/inventory HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${agent.credential}\r\n` +
      'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{');
    const drip = setInterval(() => socket.writable && socket.write(' '), 300);
    try {
      const { text, at } = await closed;
      // The timeout plus Node's checking interval (a quarter of it) plus scheduling slack.
      assert.ok(at - started < 2500, `closed after ${at - started} ms`);
      const headers = assertRawGraphError(text, 408, 'requestTimeout');
      assert.equal(headers['x-content-type-options'], 'nosniff');
      assert.equal(headers['cache-control'], 'no-store');
    } finally {
      clearInterval(drip);
      socket.destroy();
    }
    // The device that owns the credential is unaffected.
    assert.equal((await agent.inventory({ activityState: 'idle' })).status, 200);
  });

  test('headers that never finish are answered 408 and closed too', { timeout: 10_000 }, async () => {
    const started = Date.now();
    const { socket, closed } = await rawConnection(server.url, 'GET /beta/teamwork/devices HTTP/1.1\r\nHost: x\r\n');
    const drip = setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 300);
    try {
      const { text, at } = await closed;
      assert.ok(at - started < 2500, `closed after ${at - started} ms`);
      assertRawGraphError(text, 408, 'requestTimeout');
    } finally {
      clearInterval(drip);
      socket.destroy();
    }
  });

  test('a long-poll held for 3 s is answered normally: the timeout covers receiving the request, not the reply', async () => {
    const agent = await enrollAgent(server);
    const started = Date.now();
    const reply = await agent.poll(3);
    assert.equal(reply.status, 204, await reply.text());
    assert.ok(Date.now() - started >= 2900, 'the poll was held');
  });

  test('a keep-alive connection idle for longer than the timeout still serves its next request', async () => {
    const { host } = new URL(server.url);
    const request = `GET /beta/teamwork/devices HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
    const { socket, closed } = await rawConnection(server.url, request);
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    await waitFor('the first reply', async () => /\r\n\r\n[\s\S]*\}$/.test(text));
    await new Promise((resolve) => setTimeout(resolve, 2000));
    assert.ok(!socket.destroyed, 'the idle connection was closed');
    text = '';
    socket.write(request);
    await waitFor('the second reply', async () => /\r\n\r\n[\s\S]*\}$/.test(text));
    assert.equal(parseRawReply(text).status, 401);
    socket.destroy();
    await closed;
  });
});

describe('connection cap (--max-connections 4)', () => {
  let server: TestServer;
  const log = logCapture();

  before(async () => {
    server = await startTestServer({ config: { maxConnections: 4, logLevel: 'warn' }, outputs: { logDestination: log.stream } });
  });

  after(async () => {
    await server?.stop();
  });

  test('the fifth connection is closed at once, a warning is logged, and the server serves again once one closes', { timeout: 15_000 }, async () => {
    const { host } = new URL(server.url);
    const request = `GET /beta/teamwork/devices HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
    // Four connections the server has certainly accepted: each got a reply and stays open (keep-alive).
    const held = await Promise.all(Array.from({ length: 4 }, async () => {
      const connection = await rawConnection(server.url, request);
      let text = '';
      connection.socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      await waitFor('a reply', async () => text.includes('"error"'));
      return connection;
    }));
    const started = Date.now();
    const refused = await rawConnection(server.url, request).catch(() => null);
    if (refused) {
      const { text, at } = await refused.closed;
      assert.equal(text, '', 'the connection over the cap got no reply');
      assert.ok(at - started < 1000, `closed after ${at - started} ms`);
    }
    await waitFor('the warning', async () => /connection limit reached/.test(log.text()));
    const line = JSON.parse(log.text().split('\n').find((l) => l.includes('connection limit reached'))!) as { level: number; maxConnections: number };
    assert.equal(line.level, 40, 'warn');
    assert.equal(line.maxConnections, 4);
    // A second refusal right after is counted, not logged again.
    const again = await rawConnection(server.url).catch(() => null);
    await again?.closed;
    assert.equal(log.text().split('\n').filter((l) => l.includes('connection limit reached')).length, 1);

    held[0].socket.destroy();
    await held[0].closed;
    const reply = await waitFor('a normal GET to be served', async () => {
      const response = await plainRequest(`${server.url}/beta/teamwork/devices`, { headers: { authorization: `Bearer ${await server.token()}` } }).catch(() => null);
      return response?.status === 200 ? response : null;
    });
    assert.equal(reply.status, 200);
    for (const { socket } of held) socket.destroy();
  });
});

describe('headers on every reply', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ devicesA: 3 });
  });

  after(async () => {
    await server?.stop();
  });

  function assertSecurityHeaders(headers: Headers | Record<string, string | string[] | undefined>, what: string, https = false): void {
    const get = (name: string) => (headers instanceof Headers ? headers.get(name) : (headers[name] as string | undefined) ?? null);
    assert.equal(get('x-content-type-options'), 'nosniff', `${what}: x-content-type-options`);
    assert.equal(get('cache-control'), 'no-store', `${what}: cache-control`);
    assert.equal(get('strict-transport-security'), https ? 'max-age=31536000' : null, `${what}: strict-transport-security`);
  }

  test('200, 202, 400, 401, 404, 405, 415 and a malformed URL all carry nosniff and no-store, and no HSTS over http', async () => {
    const [deviceId] = (await server.query<{ id: string }>('SELECT id FROM devices ORDER BY id')).map((r) => r.id);
    const replies: Array<[string, Response]> = [
      ['200', await server.request('/beta/teamwork/devices')],
      ['202', await server.request(`/beta/teamwork/devices/${deviceId}/restart`, { method: 'POST' })],
      ['400', await server.request('/beta/teamwork/devices?$top=x')],
      ['401', await server.request('/beta/teamwork/devices', { token: null })],
      ['404', await server.request('/beta/nothing-here')],
      ['405', await server.request('/beta/teamwork/devices', { method: 'DELETE' })],
      ['415', await server.request(`/beta/teamwork/devices/${deviceId}/restart`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' })],
      ['malformed URL', await server.request('/beta/teamwork/devices/%E0%A4%A')],
    ];
    for (const [what, response] of replies) {
      assertSecurityHeaders(response.headers, what);
      await response.arrayBuffer();
    }
  });

  test('a request Node\'s parser refuses (raw 400) carries them too', async () => {
    const { closed } = await rawConnection(server.url, 'GET /beta/teamwork/devices HTTP/1.1\r\nHost: x\r\nBad\u0001Header: y\r\n\r\n');
    const headers = assertRawGraphError((await closed).text, 400, 'invalidRequest');
    assertSecurityHeaders(headers, 'raw 400');
  });

  test('over TLS (--tls), replies carry Strict-Transport-Security as well', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'twd-tls-'));
    // TLS is not a store concern: a SQLite file keeps the generated certificate in the temporary folder.
    const tls = await startTestServer({ devicesA: 1, config: { tls: true, db: join(dir, 'tls.db') } });
    try {
      assert.match(tls.url, /^https:/);
      const token = await tls.token();
      const get = (path: string, headers: Record<string, string> = {}) => new Promise<{ status: number; headers: Record<string, string | string[] | undefined> }>((done, fail) => {
        https.get(`${tls.url}${path}`, { rejectUnauthorized: false, headers }, (res) => {
          res.resume();
          res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers }));
        }).on('error', fail);
      });
      for (const [what, reply, status] of [
        ['200', await get('/beta/teamwork/devices', { authorization: `Bearer ${token}` }), 200],
        ['401', await get('/beta/teamwork/devices'), 401],
        ['404', await get('/beta/nothing-here', { authorization: `Bearer ${token}` }), 404],
      ] as const) {
        assert.equal(reply.status, status, what);
        assertSecurityHeaders(reply.headers, `https ${what}`, true);
      }
    } finally {
      await tls.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('error replies keep the Graph body with the headers added', async () => {
    await expectGraphError(await server.request('/beta/nothing-here'), 404, 'itemNotFound');
  });
});
