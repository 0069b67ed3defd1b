import { PostgresStore } from './postgres/postgres-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

/** Opens the store a `--db` value names: a postgres:// URL, else a SQLite file path. Migrations run on open. */
export async function openStore(db: string, options: { poolSize?: number } = {}): Promise<Store> {
  if (/^postgres(ql)?:\/\//i.test(db)) return PostgresStore.open(db, options);
  return new SqliteStore(db);
}
