import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { devSigningKey, signDevToken, type DevTokenRequest } from '../../src/auth/dev-issuer.js';
import { serveDefaults, type ServeConfig } from '../../src/config.js';
import type { Clock } from '../../src/domain/clock.js';
import { seedDevices } from '../../src/seed/seed-devices.js';
import { startServer, type RunningServer, type ServerOutputs } from '../../src/server.js';
import { offer, offersOf, testVersions } from './test-catalog.js';
import { createPostgresDatabase, queryDatabase, testStore } from './test-database.js';

export const tenantA = '11111111-1111-4111-8111-111111111111';
export const tenantB = '22222222-2222-4222-8222-222222222222';

export interface TestServer extends RunningServer {
  dir: string;
  /** the --db value: a SQLite file, or a postgres:// URL when TWD_TEST_STORE=postgres */
  dbPath: string;
  /** a query on the server's database in either dialect (`?` placeholders) */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  token(request?: Partial<DevTokenRequest>): Promise<string>;
  /** fetch against the server with a token of tenant A unless headers say otherwise */
  request(path: string, init?: RequestInit & { token?: string | null }): Promise<Response>;
  /** closes the server and starts it again on the same port and database (app, store and engine are new) */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A real server on a real SQLite file in a fresh temporary folder, listening on a free port.
 * Tenants A and B are offered the test catalog (testVersions) unless `testCatalog` is false,
 * for tests whose catalog must be exactly their own.
 */
export async function startTestServer(
  options: { devicesA?: number; devicesB?: number; testCatalog?: boolean; config?: Partial<ServeConfig>; outputs?: ServerOutputs; clock?: Clock } = {},
): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'twd-test-'));
  const postgres = testStore === 'postgres' && !options.config?.db ? await createPostgresDatabase() : null;
  const dbPath = options.config?.db ?? postgres?.url ?? join(dir, 'test.db');
  const config: ServeConfig = { ...serveDefaults, port: 0, logLevel: 'silent', ...options.config, db: dbPath };
  const server = await startServer(config, options.outputs, options.clock);
  // Seeded into the running server in small batches, as `serve` seeds: a 5,000-device SQLite
  // batch holds the event loop about 1.25 s (seed-devices.ts: 0.25 ms a device), past the load
  // shedding's 1 s, and in CI the first requests after 60,000 seeded devices were shed (503).
  const batchSize = 1000;
  if (options.devicesA) await seedDevices(server.store, { tenantId: tenantA, count: options.devicesA, seed: 7, batchSize });
  if (options.devicesB) await seedDevices(server.store, { tenantId: tenantB, count: options.devicesB, seed: 8, batchSize });
  if (options.testCatalog !== false) {
    for (const tenantId of [tenantA, tenantB]) await offer(server.store, tenantId, offersOf(testVersions));
  }
  const key = await devSigningKey(server.store);
  const token = (request: Partial<DevTokenRequest> = {}) => signDevToken(key, { tenantId: tenantA, ...request });
  const defaultToken = await token();
  const testServer: TestServer = {
    ...server,
    dir,
    dbPath,
    query: (sql, params) => queryDatabase(dbPath, sql, params),
    token,
    async request(path, init = {}) {
      const headers = new Headers(init.headers);
      const bearer = init.token === undefined ? defaultToken : init.token;
      if (bearer !== null && !headers.has('authorization')) headers.set('authorization', `Bearer ${bearer}`);
      return fetch(path.startsWith('http') ? path : testServer.url + path, { ...init, headers });
    },
    async restart() {
      await testServer.close();
      const again = await startServer({ ...config, port: Number(new URL(testServer.url).port) }, options.outputs, options.clock);
      Object.assign(testServer, { app: again.app, store: again.store, engine: again.engine, url: again.url, close: again.close });
      // fetch may still hold keep-alive sockets to the closed server: the first requests on
      // them fail, so they are used up here, not by the test.
      for (let attempt = 0; attempt < 10; attempt++) {
        try {
          await (await fetch(`${testServer.url}/beta/teamwork/devices?$top=1`, { headers: { authorization: `Bearer ${defaultToken}` } })).arrayBuffer();
          break;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    },
    async stop() {
      await testServer.close();
      await postgres?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return testServer;
}

/** POSTs a JSON action body. */
export function postJson(server: TestServer, path: string, body: unknown, init: RequestInit & { token?: string | null } = {}) {
  return server.request(path, {
    ...init,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(init.headers as Record<string, string> | undefined) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}
