import { dirname, join, resolve } from 'node:path';
import { ChunkArtifacts } from './artifact-chunks.js';
import { FileArtifacts } from './artifact-files.js';
import type { ArtifactStore } from './artifact-store.js';
import { migrate, migrations } from './migrations.js';
import { PostgresDriver } from './postgres/postgres-driver.js';
import type { SqlDriver } from './sql-driver.js';
import { SqlStore } from './sql-store.js';
import { sqliteFileWarnings } from './sqlite/file-modes.js';
import { SqliteDriver } from './sqlite/sqlite-driver.js';
import type { Store, StoreOptions } from './store.js';

/** Opens the store a `--db` value names: a postgres:// URL, else a SQLite file path. Migrations run on open. */
export async function openStore(db: string, options: StoreOptions = {}): Promise<Store> {
  const driver: SqlDriver = isPostgresUrl(db) ? new PostgresDriver(db, options.poolSize ?? 10) : new SqliteDriver(db);
  try {
    await migrate(driver, migrations, { seededDocuments: options.seededDocuments });
  } catch (error) {
    await driver.close().catch(() => {});
    throw error;
  }
  return new SqlStore(driver, artifactStoreFor(db, driver, options.artifactDir ?? null), options.seededDocuments, options.scanRowsPerPage);
}

/**
 * Where artifacts go: `--artifact-dir` when given; else SQLite's data directory (one process,
 * one machine), and PostgreSQL's database, the one thing its replicas surely share.
 */
function artifactStoreFor(db: string, driver: SqlDriver, artifactDir: string | null): ArtifactStore {
  if (artifactDir !== null) return new FileArtifacts(resolve(artifactDir));
  return isPostgresUrl(db) ? new ChunkArtifacts(driver) : new FileArtifacts(join(dirname(resolve(db)), 'artifacts'));
}

/** A `--db` value fit to print or log: a PostgreSQL URL's password becomes `***`; a file path is unchanged. */
export function redactDatabaseUrl(db: string): string {
  if (!isPostgresUrl(db)) return db;
  // Unparseable: hide all the user info, which is where a password would be.
  if (!URL.canParse(db)) return db.replace(/\/\/[^/?#]*@/, '//***@');
  const url = new URL(db);
  if (url.password) url.password = '***';
  // libpq and pg also read a password from the query string.
  if (url.searchParams.has('password')) url.searchParams.set('password', '***');
  return url.toString();
}

function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//i.test(db);
}

/** Warnings about a SQLite database that other local users can read (none for PostgreSQL, whose files are the server's). */
export function databaseFileWarnings(db: string): string[] {
  return isPostgresUrl(db) ? [] : sqliteFileWarnings(db);
}
