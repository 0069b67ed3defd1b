import { StoreConflictError, StoreUnavailableError } from '../store-errors.js';

/** SQLite result codes that a retry later can cure: the file is locked, full, or unreadable for now. */
const unavailableCodes = ['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_CANTOPEN'];
const conflictCodes = new Set(['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_PRIMARYKEY']);

/** better-sqlite3's error as one of the store's own; anything else (a bug) is returned as it is. */
export function storeErrorFromSqlite(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return error;
  const message = (error as Error).message;
  if (unavailableCodes.some((c) => code === c || code.startsWith(`${c}_`))) return new StoreUnavailableError(message, error);
  if (conflictCodes.has(code)) return new StoreConflictError(message, error);
  return error;
}
