import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** The PostgreSQL the suite uses: 127.0.0.1:5432, user postgres, trust auth (override with TWD_TEST_PG). */
export const adminUrl = process.env.TWD_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Which store the end-to-end suite runs against: `npm test` runs it once per store. */
export const testStore: 'sqlite' | 'postgres' = process.env.TWD_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite';

/** A fresh, empty database for one test server; drop() removes it. Fails loudly if PostgreSQL is down. */
export async function createPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `twd_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/**
 * A database for servers that a test starts, stops and starts again on it: a SQLite file in a
 * fresh folder, or a fresh PostgreSQL database. remove() deletes it.
 */
export async function scratchDatabase(prefix: string): Promise<{ db: string; remove(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const postgres = testStore === 'postgres' ? await createPostgresDatabase() : null;
  return {
    db: postgres?.url ?? join(dir, 'test.db'),
    async remove() {
      await postgres?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs a query against the server's database in either dialect; write `?` placeholders. */
export async function queryDatabase<T = Record<string, unknown>>(db: string, sql: string, params: unknown[] = []): Promise<T[]> {
  if (db.startsWith('postgres')) {
    let n = 0;
    const client = new pg.Client({ connectionString: db });
    await client.connect();
    try {
      return (await client.query(sql.replace(/\?/g, () => `$${++n}`), params)).rows as T[];
    } finally {
      await client.end();
    }
  }
  const { default: Database } = await import('better-sqlite3');
  const conn = new Database(db, { readonly: true });
  try {
    return conn.prepare(sql).all(...params) as T[];
  } finally {
    conn.close();
  }
}

/** Changes the database behind a running server (to put it in a state no API call makes, such as a past deadline). */
export async function changeDatabase(db: string, sql: string, params: unknown[] = []): Promise<void> {
  if (db.startsWith('postgres')) {
    await queryDatabase(db, sql, params);
    return;
  }
  const { default: Database } = await import('better-sqlite3');
  const conn = new Database(db);
  try {
    conn.pragma('busy_timeout = 5000');
    conn.prepare(sql).run(...params);
  } finally {
    conn.close();
  }
}
