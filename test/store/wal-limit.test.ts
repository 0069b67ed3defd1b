import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SqliteDriver } from '../../src/store/sqlite/sqlite-driver.js';
import { testStore } from '../helpers/test-database.js';

/**
 * SQLite's WAL starts over only when a write begins after a checkpoint copied all of it. The
 * event loop's connection leaves checkpoints to a thread, so a connection writing back to back
 * (seeding) never gave the thread that moment, and the WAL grew with every byte written: 16 GB
 * while the filters benchmark seeded a million devices. Past its limit the connection's next
 * transaction now waits for the thread to catch up.
 */

const onlyOnSqlite = testStore === 'postgres' && "SQLite's WAL: run in the SQLite pass";

test('SQLite: writing back to back keeps the WAL near its limit, and every row is kept', { skip: onlyOnSqlite }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'twd-wal-'));
  const path = join(dir, 'wal.db');
  const driver = new SqliteDriver(path, { walLimitBytes: 1024 * 1024 });
  try {
    await driver.script('CREATE TABLE filler (id INTEGER PRIMARY KEY, tag TEXT NOT NULL, body BLOB NOT NULL)');
    await driver.script('CREATE INDEX filler_by_tag ON filler (tag)');
    const transactions = 40;
    const rowsPerTransaction = 250;
    let largestWal = 0;
    for (let t = 0; t < transactions; t++) {
      // 250 rows of 8 KiB: 2 MiB and more of WAL per transaction, 80 MiB in all
      await driver.transaction(async (tx) => {
        await tx.insertRows('filler', ['tag', 'body'], Array.from({ length: rowsPerTransaction }, () => [randomBytes(8).toString('hex'), randomBytes(8192)]));
      });
      largestWal = Math.max(largestWal, statSync(`${path}-wal`).size);
    }
    const [{ rows }] = await driver.query<{ rows: number }>('SELECT count(*) AS rows FROM filler');
    assert.equal(rows, transactions * rowsPerTransaction);
    // The limit and a transaction or two (2 MiB each): far from the 80 MiB written.
    const bound = 8 * 1024 * 1024;
    assert.ok(largestWal <= bound, `the WAL reached ${(largestWal / 1048576).toFixed(1)} MiB, over ${bound / 1048576} MiB`);
  } finally {
    await driver.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
