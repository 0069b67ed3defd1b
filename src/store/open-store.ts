import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

/** Opens the store a `--db` value names: a SQLite file path (the default). */
export async function openStore(db: string): Promise<Store> {
  if (/^postgres(ql)?:\/\//i.test(db)) {
    throw new Error('PostgreSQL is not available in this build yet; use a SQLite file path for --db.');
  }
  return new SqliteStore(db);
}
