import { closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The SQLite file holds the dev issuer's private key and device credential hashes: whoever
 * reads it can mint admin tokens. So a directory the service creates is 0700 and a database
 * file it creates is 0600; SQLite gives the -wal and -shm files the database file's mode.
 * Existing files keep the mode their owner chose (see sqliteFileWarnings).
 */
export function createDatabaseFilePrivately(path: string): void {
  const dir = dirname(path);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    closeSync(openSync(path, 'wx', 0o600));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}

/** One line per database file or directory that users other than the owner can read or enter. */
export function sqliteFileWarnings(path: string): string[] {
  const warnings: string[] = [];
  for (const [what, file] of [['database directory', dirname(path)], ['database file', path], ['database file', `${path}-wal`], ['database file', `${path}-shm`]] as const) {
    if (!existsSync(file)) continue;
    const mode = statSync(file).mode & 0o777;
    if (mode & 0o077) {
      warnings.push(`${what} ${file} is accessible to other users (mode ${mode.toString(8).padStart(4, '0')}); it holds the dev issuer's signing key: chmod ${what === 'database directory' ? '700' : '600'} it`);
    }
  }
  return warnings;
}
