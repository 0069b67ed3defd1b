import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { PostgresDriver } from '../../src/store/postgres/postgres-driver.js';
import { statementTimeoutMs } from '../../src/store/sql-driver.js';
import { migrate, migrations } from '../../src/store/migrations.js';
import { StoreUnavailableError } from '../../src/store/store-errors.js';
import { ReaderProcesses } from '../../src/store/sqlite/reader-processes.js';
import { SqliteDriver } from '../../src/store/sqlite/sqlite-driver.js';
import { ScanSlots } from '../../src/store/scan-slots.js';
import { createPostgresDatabase, queryDatabase, testStore } from '../helpers/test-database.js';

/**
 * SQLite: the reads that may examine many rows run in reader processes with the same limit; a
 * read past it fails with the same error while the event loop keeps turning, its process is
 * killed (which ends the statement), and a new process serves the next read.
 *
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

test('SQLite: a read running past the limit in a reader process is a StoreUnavailableError and the process is ended, the event loop never waits, the next read is served', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'twd-readers-'));
  const driver = new SqliteDriver(join(dir, 'readers.db'));
  // The limit counts from the moment a read is asked for, so it also covers starting the
  // replacement process for the next read: on a loaded machine that alone took over 300 ms.
  const readers = new ReaderProcesses(join(dir, 'readers.db'), 1, 1500);
  try {
    await driver.script('CREATE TABLE t (x integer)');
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    const started = Date.now();
    // Counts to a billion: minutes of work for SQLite.
    const failure = await readers.read('WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) SELECT count(*) AS n FROM c', [])
      .then(() => null, (error: unknown) => error);
    const elapsed = Date.now() - started;
    clearInterval(ticker);
    assert.ok(failure instanceof StoreUnavailableError, `failed with ${String(failure)}`);
    assert.match((failure as Error).message, /time limit/);
    assert.ok(elapsed >= 1490 && elapsed < 3000, `ended after ${elapsed} ms`);
    assert.ok(ticks >= elapsed / 10 / 2, `the event loop kept turning: ${ticks} ticks of 10 ms in ${elapsed} ms`);
    assert.deepEqual(await readers.read('SELECT 1 AS one', []), [{ one: 1 }], 'a new reader process serves the next read');
    const busy = execFileSync('ps', ['-o', 'pid=,pcpu=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' })
      .split('\n').filter((line) => line.includes('reader-process'));
    assert.equal(busy.length, 1, `one reader process is left, the one that answered: ${busy.join('; ')}`);
    // The driver's own scans answer the same way as its queries.
    assert.deepEqual(await driver.scan('SELECT count(*) AS n FROM t WHERE x > ?', [0]), [{ n: 0 }]);
  } finally {
    await readers.close();
    await driver.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('migrations and the VACUUM (ANALYZE) after a bulk load have no statement limit: an index built over a large table may take longer', { skip: onlyOnPostgres }, async () => {
  const driver = new PostgresDriver(database.url, 2);
  try {
    const slow = { version: 1000, name: 'a migration longer than the statement limit', sql: () => `SELECT pg_sleep(${statementTimeoutMs / 1000 + 1.5})` };
    await migrate(driver, [...migrations, slow]);
    const [row] = await driver.query<{ name: string }>('SELECT name FROM schema_migrations WHERE version = ?', [1000]);
    assert.equal(row?.name, slow.name, 'the migration was applied');
    await driver.afterBulkLoad('devices');
    // Requests' statements keep the limit.
    const failure = await driver.query('SELECT pg_sleep(?)', [statementTimeoutMs / 1000 + 10]).then(() => null, (error: unknown) => error);
    assert.ok(failure instanceof StoreUnavailableError, `failed with ${String(failure)}`);
  } finally {
    await driver.close();
  }
});

test('SQLite: when no reader process can open the file, a read fails as unavailable within the limit', { timeout: 10_000 }, async () => {
  const readers = new ReaderProcesses(join(tmpdir(), 'twd-no-such-dir', 'missing.db'), 1, 400);
  try {
    const started = Date.now();
    const failure = await readers.read('SELECT 1 AS one', []).then(() => null, (error: unknown) => error);
    const elapsed = Date.now() - started;
    assert.ok(failure instanceof StoreUnavailableError, `failed with ${String(failure)}`);
    assert.ok(elapsed >= 390 && elapsed < 1500, `failed after ${elapsed} ms`);
  } finally {
    await readers.close();
  }
});

test('slow reads wait for a slot at most the limit, then fail as unavailable without running', async () => {
  const slots = new ScanSlots(300, 1);
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const ran: string[] = [];
  const started = Date.now();
  // One slot: the first runs 200 ms; the second gets the slot after 200 ms (within 300) and
  // runs 200 ms; the third would get it after 400 ms, so it is refused at 300 ms.
  const first = slots.run(async () => { await sleep(200); ran.push('first'); });
  const second = slots.run(async () => { await sleep(200); ran.push('second'); });
  const third = slots.run(async () => { ran.push('third'); }).then(() => null, (error: unknown) => error);
  const failure = await third;
  const refusedAfter = Date.now() - started;
  assert.ok(failure instanceof StoreUnavailableError, `failed with ${String(failure)}`);
  assert.ok(refusedAfter >= 290 && refusedAfter < 390, `refused after ${refusedAfter} ms`);
  await Promise.all([first, second]);
  await slots.run(async () => { ran.push('after'); });
  assert.deepEqual(ran, ['first', 'second', 'after'], 'the refused read never ran; a free slot serves the next read at once');
});
