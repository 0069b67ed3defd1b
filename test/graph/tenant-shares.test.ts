import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { ServiceError } from '../../src/domain/errors.js';
import { TenantShares } from '../../src/http/tenant-shares.js';
import { scrape, sampleValue } from '../helpers/prometheus.js';
import { startTestServer, tenantB, type TestServer } from '../helpers/test-server.js';

/**
 * Tenants' fair shares of the process: one tenant reading alone is never held back; while
 * another tenant reads, its reads beyond its share wait their turn. Only an authenticated,
 * permitted read counts, and a read abandoned while it waits gives its place back.
 */

/** 'done' once `promise` has settled, either way; 'pending' if it has not by the next turn of the loop. */
const settled = (promise: Promise<unknown>) =>
  Promise.race([promise.then(() => 'done', () => 'done'), new Promise<string>((r) => setImmediate(() => r('pending')))]);

describe('TenantShares', () => {
  test('a tenant reading alone runs every read at once', async () => {
    const shares = new TenantShares({ slots: 2 });
    const turns = Array.from({ length: 10 }, () => shares.take('a'));
    for (const turn of turns) assert.equal(await settled(turn.admitted), 'done');
    for (const turn of turns) turn.leave();
  });

  test('while another tenant reads, each runs slots / tenants reads at once and the rest wait', async () => {
    const shares = new TenantShares({ slots: 4 });
    const other = shares.take('b');
    const turns = Array.from({ length: 3 }, () => shares.take('a'));
    assert.deepEqual(await Promise.all(turns.map((t) => settled(t.admitted))), ['done', 'done', 'pending']);
    other.leave();
    for (const turn of turns) turn.leave();
  });

  test("without restBetweenTurns, a waiting read starts as soon as its tenant's last read ends", async () => {
    const shares = new TenantShares({ slots: 2 });
    const other = shares.take('b');
    const first = shares.take('a');
    const second = shares.take('a');
    await new Promise((r) => setTimeout(r, 60));
    first.leave();
    assert.equal(await settled(second.admitted), 'done');
    second.leave();
    other.leave();
  });

  test("with restBetweenTurns, a waiting read starts after a pause as long as its tenant's last read took, and is a 503 past the wait limit", async () => {
    const shares = new TenantShares({ slots: 2, waitLimitMs: 400, restBetweenTurns: true });
    const other = shares.take('b');
    const first = shares.take('a');
    const second = shares.take('a');
    const third = shares.take('a');
    await new Promise((r) => setTimeout(r, 60));
    const ended = performance.now();
    first.leave();
    await second.admitted;
    const pause = performance.now() - ended;
    assert.ok(pause >= 55, `the second read started ${pause.toFixed(1)} ms after the first ended, which took 60 ms`);
    // The third waits behind the second, which never ends: past the limit it is refused.
    await assert.rejects(third.admitted, (error: unknown) => {
      assert.ok(error instanceof ServiceError);
      assert.equal(error.kind, 'serviceNotAvailable');
      assert.equal(error.headers?.['retry-after'], '1');
      return true;
    });
    second.leave();
    third.leave();
    other.leave();
  });

  test('a read that leaves while it waits gives its place back; leaving twice frees one place', async () => {
    const shares = new TenantShares({ slots: 2 });
    const other = shares.take('b');
    const running = shares.take('a');
    const abandoned = shares.take('a');
    const next = shares.take('a');
    abandoned.leave();
    await assert.rejects(abandoned.admitted, ServiceError);
    running.leave();
    running.leave();
    await next.admitted;
    const after = shares.take('a');
    assert.equal(await settled(after.admitted), 'pending', 'the second leave() of one read freed nothing');
    next.leave();
    await after.admitted;
    after.leave();
    other.leave();
  });
});

/** Reads that examine a window of devices each (no index narrows a not): a few milliseconds apiece. */
const slowRead = `/beta/teamwork/devices?$filter=${encodeURIComponent("not(hardwareDetail/serialNumber ne 'NOPE')")}`;
/** More reads at once than a tenant's share while one other tenant reads (half the cores). */
const overShare = Math.floor(availableParallelism() / 2) + 3;
const otherTenantRead = '/beta/teamwork/devices?$top=1';

describe('tenant shares over HTTP', { timeout: 120_000 }, () => {
  let server: TestServer;
  let tokenB: string;

  before(async () => {
    server = await startTestServer({ devicesA: 20_000, devicesB: 10, config: { scanRowsPerPage: 4000 } });
    tokenB = await server.token({ tenantId: tenantB });
  });

  after(async () => {
    await server?.stop();
  });

  const waits = async () => sampleValue(await scrape(server.url), 'teamwork_devices_tenant_read_waits_total') ?? Number.NaN;
  const readsOfA = async (count: number) => {
    const responses = await Promise.all(Array.from({ length: count }, () => server.request(slowRead)));
    for (const response of responses) {
      assert.equal(response.status, 200, await response.clone().text());
      const page = (await response.json()) as { value: unknown[]; '@odata.nextLink'?: string };
      assert.deepEqual(page.value, []);
      assert.ok(page['@odata.nextLink']);
    }
  };
  // A tenant counts as reading for a second after its last read.
  const quiet = () => new Promise((r) => setTimeout(r, 1100));

  test('one tenant reading alone never waits for a turn', async () => {
    const before = await waits();
    await Promise.all(Array.from({ length: 4 }, () => readsOfA(4)));
    assert.equal(await waits(), before);
  });

  test("requests with another tenant's forged, expired or unpermitted token do not make a tenant wait", async () => {
    await quiet();
    const before = await waits();
    const forged = tokenB.slice(0, -6) + (tokenB.endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA');
    const expired = await server.token({ tenantId: tenantB, ttlSeconds: -60 });
    const unpermitted = await server.token({ tenantId: tenantB, scopes: ['User.Read'] });
    const attacker = async () => {
      for (let i = 0; i < 10; i++) {
        for (const [token, status] of [[forged, 401], [expired, 401], [unpermitted, 403]] as const) {
          const response = await server.request(otherTenantRead, { token });
          assert.equal(response.status, status);
          await response.arrayBuffer();
        }
      }
    };
    await Promise.all([attacker(), ...Array.from({ length: 4 }, () => readsOfA(3))]);
    assert.equal(await waits(), before, "no read of tenant A waited: none of those requests counts as tenant B's");
  });

  test("while another tenant reads, a tenant's reads beyond its share wait their turn, and every one is answered", async () => {
    const before = await waits();
    let stop = false;
    let readsOfB = 0;
    const tenantBReads = (async () => {
      while (!stop) {
        const response = await server.request(otherTenantRead, { token: tokenB });
        assert.equal(response.status, 200);
        await response.arrayBuffer();
        readsOfB++;
      }
    })();
    try {
      while (readsOfB === 0) await new Promise((r) => setTimeout(r, 5));
      await Promise.all(Array.from({ length: overShare }, () => readsOfA(3)));
    } finally {
      stop = true;
      await tenantBReads;
    }
    assert.ok((await waits()) > before, `some of tenant A's ${overShare * 3} reads waited`);
  });

  test('reads abandoned while they wait give their places back', async () => {
    const keepBReading = async () => {
      const response = await server.request(otherTenantRead, { token: tokenB });
      assert.equal(response.status, 200);
      await response.arrayBuffer();
    };
    await keepBReading();
    const before = await waits();
    const aborts = Array.from({ length: overShare + 4 }, () => new AbortController());
    const abandoned = aborts.map((abort) => server.request(slowRead, { signal: abort.signal }).then((r) => r.arrayBuffer()).catch(() => 'aborted'));
    while ((await waits()) === before) await new Promise((r) => setTimeout(r, 2));
    for (const abort of aborts) abort.abort();
    await Promise.all(abandoned);
    await keepBReading();
    // Were a place kept by an abandoned read, this one would wait out the limit (5 s) and be a 503.
    const started = performance.now();
    await readsOfA(1);
    const tookMs = performance.now() - started;
    assert.ok(tookMs < 2500, `tenant A's next read took ${tookMs.toFixed(0)} ms`);
  });
});
