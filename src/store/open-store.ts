import { migrate } from './migrations.js';
import { PostgresDriver } from './postgres/postgres-driver.js';
import type { SqlDriver } from './sql-driver.js';
import { SqlStore } from './sql-store.js';
import { SqliteDriver } from './sqlite/sqlite-driver.js';
import type { Store, StoreOptions } from './store.js';

/** Opens the store a `--db` value names: a postgres:// URL, else a SQLite file path. Migrations run on open. */
export async function openStore(db: string, options: StoreOptions = {}): Promise<Store> {
  const driver: SqlDriver = /^postgres(ql)?:\/\//i.test(db) ? new PostgresDriver(db, options.poolSize ?? 10) : new SqliteDriver(db);
  try {
    await migrate(driver);
  } catch (error) {
    await driver.close().catch(() => {});
    throw error;
  }
  return new SqlStore(driver, options.seededDocuments);
}
