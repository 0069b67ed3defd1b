import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PostgresDriver, statementTimeoutMs } from '../../src/store/postgres/postgres-driver.js';
import { StoreUnavailableError } from '../../src/store/store-errors.js';
import { createPostgresDatabase, queryDatabase, testStore } from '../helpers/test-database.js';

/**
 * A statement that goes wrong on PostgreSQL ends with the store's "unavailable" error (a 503
 * with Retry-After at the edge) after statementTimeoutMs, and the server stops running it: the
 * connection and the database's work are freed, not just the caller's wait.
 */

const onlyOnPostgres = testStore !== 'postgres' && 'a PostgreSQL statement limit: run in the PostgreSQL pass';
let database: { url: string; drop(): Promise<void> };

before(async () => {
  if (testStore === 'postgres') database = await createPostgresDatabase();
});

after(async () => {
  await database?.drop();
});

test('a statement running past the limit is cancelled by the server and is a StoreUnavailableError', { skip: onlyOnPostgres }, async () => {
  const driver = new PostgresDriver(database.url, 2);
  try {
    const started = Date.now();
    const failure = await driver.query('SELECT pg_sleep(?)', [statementTimeoutMs / 1000 + 10]).then(() => null, (error: unknown) => error);
    const elapsed = Date.now() - started;
    assert.ok(failure instanceof StoreUnavailableError, `failed with ${String(failure)}`);
    assert.match((failure as Error).message, /statement timeout/);
    assert.ok(elapsed >= statementTimeoutMs - 100 && elapsed < statementTimeoutMs + 3000, `ended after ${elapsed} ms`);
    const name = new URL(database.url).pathname.slice(1);
    const running = await queryDatabase(database.url, "SELECT pid FROM pg_stat_activity WHERE datname = ? AND query LIKE 'SELECT pg_sleep%' AND state = 'active'", [name]);
    assert.deepEqual(running, [], 'the server no longer runs it');
    // The pool's connection is usable again.
    assert.deepEqual(await driver.query<{ one: number }>('SELECT 1 AS one'), [{ one: 1 }]);
  } finally {
    await driver.close();
  }
});
