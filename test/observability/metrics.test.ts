import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { metricsPlacement, serveDefaults, validateServeConfig } from '../../src/config.js';
import { deviceIds, expectGraphError } from '../helpers/http-assertions.js';
import { postAction, requestOperation } from '../helpers/graph-operations.js';
import { families, histogramSeries, sampleValue, scrape } from '../helpers/prometheus.js';
import { enrollAgent } from '../helpers/test-agent.js';
import { testStore } from '../helpers/test-database.js';
import { postJson, startTestServer, type TestServer } from '../helpers/test-server.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * `/metrics`, scraped over HTTP and parsed as Prometheus parses it: what the service did
 * shows up under the documented names and labels, and the scrape is protected as configured.
 */

const requestSeconds = 'teamwork_devices_http_request_duration_seconds';
const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

describe(`/metrics (${testStore})`, () => {
  let server: TestServer;
  let ids: string[];

  before(async () => {
    // A short heartbeat timeout makes presence reach the store within a second.
    server = await startTestServer({ devicesA: 4, config: { heartbeatTimeoutMs: 3000 } });
    ids = await deviceIds(server, 4);
  });
  after(async () => {
    await server?.stop();
  });

  test('a request shows up by method, route pattern and status, with latency buckets', async () => {
    const before = await scrape(server.url);
    assert.equal(histogramSeries(before, requestSeconds, { route: '/beta/teamwork/devices/:deviceId/updateSoftware' }), undefined);

    await requestOperation(server, ids[0], 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: '1.0.96.22' });
    const conflict = await postAction(server, ids[0], 'updateSoftware', { softwareType: 'teamsClient', softwareVersion: '1.0.96.22' });
    await expectGraphError(conflict, 409, 'conflict');
    assert.equal((await server.request(`/beta/teamwork/devices/${ids[1]}`)).status, 200);
    assert.equal((await server.request('/beta/teamwork/nothing/here/at/all')).status, 404);

    const text = await scrape(server.url);
    const accepted = histogramSeries(text, requestSeconds, { method: 'POST', route: '/beta/teamwork/devices/:deviceId/updateSoftware', status: '202' });
    assert.ok(accepted, 'the 202 is counted under its route pattern');
    assert.equal(accepted.count, 1);
    assert.ok(accepted.sum > 0 && accepted.sum < 5, `sum ${accepted.sum}`);
    assert.deepEqual(Object.keys(accepted.buckets).sort((a, b) => Number(a.replace('+Inf', 'Infinity')) - Number(b.replace('+Inf', 'Infinity'))), ['0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '30', '60', '+Inf']);
    assert.equal(accepted.buckets['+Inf'], 1);
    assert.equal(histogramSeries(text, requestSeconds, { route: '/beta/teamwork/devices/:deviceId/updateSoftware', status: '409' })?.count, 1);
    assert.equal(histogramSeries(text, requestSeconds, { method: 'GET', route: '/beta/teamwork/devices/:deviceId', status: '200' })?.count, 1);
    // No raw URL (with its ids) ever becomes a label: an unknown path is one series.
    assert.equal(histogramSeries(text, requestSeconds, { route: 'unmatched', status: '404' })?.count, 1);
    assert.ok(!text.includes(ids[0]) && !text.includes(ids[1]), 'device ids in the metrics');
  });

  test('open operations match the database, transitions and group commits are counted', async () => {
    await requestOperation(server, ids[2], 'restart');
    await requestOperation(server, ids[3], 'runDiagnostics');
    await requestOperation(server, ids[3], 'restart');
    const text = await scrape(server.url);
    const rows = await server.query<{ operation_type: string; status: string; n: number | string }>(
      'SELECT operation_type, status, count(*) AS n FROM operations GROUP BY operation_type, status',
    );
    assert.ok(rows.length >= 3);
    for (const row of rows) {
      assert.equal(sampleValue(text, 'teamwork_devices_operations', { operation_type: row.operation_type, status: row.status }), Number(row.n), `${row.operation_type} ${row.status}`);
    }
    assert.equal(sampleValue(text, 'teamwork_devices_operations', { operation_type: 'deviceRestart', status: 'queued' }), 2);
    assert.equal(sampleValue(text, 'teamwork_devices_operation_transitions_total', { operation_type: 'deviceRestart', status: 'queued' }), 2);
    assert.equal(sampleValue(text, 'teamwork_devices_operation_transitions_total', { operation_type: 'softwareUpdate', status: 'queued' }), 1);
    const batches = families(text).get('teamwork_devices_group_commit_batch_size');
    assert.equal(batches?.type, 'HISTOGRAM');
    const [series] = batches!.metrics;
    // Four accepted operations and the refused one went to the database in at most five commits.
    assert.equal(Number(series.sum), 5);
    assert.ok(Number(series.count) >= 1 && Number(series.count) <= 5, `count ${series.count}`);
    assert.ok(series.buckets && '1' in series.buckets && '+Inf' in series.buckets);
  });

  test('a long-poll held and a device heard from are counted; the database pool is shown', { timeout: 30_000 }, async () => {
    const agent = await enrollAgent(server);
    assert.equal((await agent.inventory({ activityState: 'idle' })).status, 200);
    const polling = agent.poll(10);
    await waitFor('the long-poll to be counted', async () => sampleValue(await scrape(server.url), 'teamwork_devices_long_polls') === 1);
    await waitFor('the device to be connected', async () => (sampleValue(await scrape(server.url), 'teamwork_devices_devices_connected') ?? 0) >= 1, { timeoutMs: 10_000 });
    await requestOperation(server, agent.deviceId!, 'restart');
    assert.equal((await polling).status, 200);
    const text = await scrape(server.url);
    assert.equal(sampleValue(text, 'teamwork_devices_long_polls'), 0);
    if (testStore === 'postgres') {
      assert.ok((sampleValue(text, 'teamwork_devices_db_pool_connections', { state: 'total' }) ?? 0) >= 1);
      assert.equal(typeof sampleValue(text, 'teamwork_devices_db_pool_connections', { state: 'waiting' }), 'number');
      assert.equal(sampleValue(text, 'teamwork_devices_sqlite_readers', { state: 'total' }), undefined);
    } else {
      // The scrape's own reads of open operations and connected devices run in reader processes.
      const total = sampleValue(text, 'teamwork_devices_sqlite_readers', { state: 'total' }) ?? 0;
      const busy = sampleValue(text, 'teamwork_devices_sqlite_readers', { state: 'busy' }) ?? -1;
      assert.ok(total >= 1 && busy >= 0 && busy <= total, `readers: ${busy} busy of ${total}`);
      assert.equal(sampleValue(text, 'teamwork_devices_db_pool_connections', { state: 'total' }), undefined);
    }
  });

  test("Node's default metrics are there, event-loop lag included", async () => {
    const text = await scrape(server.url);
    const lag = sampleValue(text, 'nodejs_eventloop_lag_seconds');
    assert.ok(lag !== undefined && lag >= 0, `lag ${lag}`);
    assert.ok(families(text).has('process_cpu_user_seconds_total'));
    assert.ok(families(text).has('nodejs_heap_size_used_bytes'));
  });

  test('/metrics cannot be reached through $batch', async () => {
    const response = await postJson(server, '/$batch', { requests: [{ id: '1', method: 'GET', url: '/metrics' }] });
    const text = await response.text();
    assert.equal(response.status, 200);
    const [sub] = (JSON.parse(text) as { responses: { status: number }[] }).responses;
    assert.ok(sub.status >= 400, `sub-request status ${sub.status}`);
    assert.ok(!text.includes('teamwork_devices_'), text);
  });
});

describe('/metrics protection', () => {
  test('with --metrics-auth: no credentials, a wrong password, a wrong user are 401; the right ones scrape', async () => {
    const server = await startTestServer({ testCatalog: false, config: { metricsAuth: 'scraper:s3cret:with-colon' } });
    try {
      for (const [what, headers] of [
        ['none', {}],
        ['wrong password', basic('scraper', 's3cret')],
        ['wrong user', basic('scrapper', 's3cret:with-colon')],
        ['a bearer token', { authorization: `Bearer ${await server.token()}` }],
        ['not base64', { authorization: 'Basic !!!' }],
      ] as const) {
        const response = await fetch(`${server.url}/metrics`, { headers });
        assert.equal(response.headers.get('www-authenticate'), 'Basic realm="metrics", charset="UTF-8"', what);
        await expectGraphError(response, 401, 'unauthenticated');
      }
      const text = await scrape(server.url, basic('scraper', 's3cret:with-colon'));
      assert.ok(families(text).has(requestSeconds));
      // The refused scrapes were requests too.
      assert.equal(histogramSeries(text, requestSeconds, { route: '/metrics', status: '401' })?.count, 5);
    } finally {
      await server.stop();
    }
  });

  test('with --metrics-port: served there (with its auth), not on the main port', async () => {
    const server = await startTestServer({ testCatalog: false, config: { metricsPort: 0, metricsAuth: 'prom:pw' } });
    try {
      assert.ok(server.metricsUrl && server.metricsUrl !== server.url);
      await expectGraphError(await fetch(`${server.url}/metrics`), 404, 'itemNotFound');
      await expectGraphError(await fetch(`${server.metricsUrl}/metrics`), 401, 'unauthenticated');
      assert.equal((await server.request('/beta/teamwork/devices')).status, 200);
      const text = await scrape(server.metricsUrl, basic('prom', 'pw'));
      // The main port's requests are counted; the metrics listener's own are not requests of the service.
      assert.equal(histogramSeries(text, requestSeconds, { route: '/beta/teamwork/devices', status: '200' })?.count, 1);
      await expectGraphError(await fetch(`${server.metricsUrl}/beta/teamwork/devices`), 404, 'itemNotFound');
    } finally {
      await server.stop();
    }
  });

  test('without either on a non-loopback --host: not served at all', async () => {
    const server = await startTestServer({ testCatalog: false, config: { host: '0.0.0.0', devIssuer: 'on' } });
    try {
      await expectGraphError(await fetch(`${server.url}/metrics`), 404, 'itemNotFound');
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    } finally {
      await server.stop();
    }
  });
});

describe('the metrics configuration', () => {
  const config = (changes: Partial<typeof serveDefaults>) => ({ ...serveDefaults, ...changes });
  test('where /metrics is served follows --metrics-port, --metrics-auth and --host', () => {
    assert.equal(metricsPlacement(config({})), 'mainPort');
    assert.equal(metricsPlacement(config({ host: '::1' })), 'mainPort');
    assert.equal(metricsPlacement(config({ host: '0.0.0.0' })), 'off');
    assert.equal(metricsPlacement(config({ host: '0.0.0.0', metricsAuth: 'a:b' })), 'mainPort');
    assert.equal(metricsPlacement(config({ host: '0.0.0.0', metricsPort: 9464 })), 'ownPort');
  });

  test('bad values are refused at start, by flag', () => {
    for (const [changes, message] of [
      [{ metricsAuth: 'nocolon' }, /--metrics-auth must be user:password/],
      [{ metricsAuth: ':password' }, /--metrics-auth must be user:password/],
      [{ metricsAuth: 'user:' }, /--metrics-auth must be user:password/],
      [{ metricsPort: 8080 }, /--metrics-port must differ from --port/],
      [{ metricsPort: 70000 }, /--metrics-port must be 0\.\.65535/],
      [{ logFormat: 'xml' as 'json' }, /--log-format must be json or pretty/],
      [{ logLevel: 'loud' }, /--log-level must be one of/],
    ] as const) {
      assert.throws(() => validateServeConfig(config(changes)), message, JSON.stringify(changes));
    }
    assert.doesNotThrow(() => validateServeConfig(config({ metricsAuth: 'prometheus:p:a:s:s', metricsPort: 9464, logFormat: 'json' })));
  });
});
