/**
 * The database cannot serve right now (connection lost, SQLite busy or disk full). The edge
 * answers 503 with Retry-After; nothing was changed by the request that got it.
 */
export class StoreUnavailableError extends Error {
  constructor(readonly reason: string, cause?: unknown) {
    super(`The database is unavailable: ${reason}`, { cause });
  }
}

const pgUnavailableCodes = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND',
  '57P01', '57P02', '57P03', // admin shutdown, crash shutdown, cannot connect now
  '53300', // too many connections
  '55000', // database not accepting connections (ALLOW_CONNECTIONS false)
  '08000', '08001', '08003', '08004', '08006', // connection exceptions
]);

/** PostgreSQL errors that mean "try again later", not "your request is wrong". */
export function isPgUnavailable(error: unknown): boolean {
  const e = error as { code?: string; message?: string } | null;
  if (!e) return false;
  if (e.code && pgUnavailableCodes.has(e.code)) return true;
  return /Connection terminated|connection timeout|Client has encountered a connection error|timeout exceeded when trying to connect|Query read timeout/i.test(e.message ?? '');
}

/** PostgreSQL refusing a value the client sent (a NUL character in text, say): the request is bad, not the server. */
function isPgBadInput(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code;
  return code === '22021' || code === '22P05';
}

const sqliteUnavailableCodes = new Set(['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_CANTOPEN']);

export function isSqliteUnavailable(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code ?? '';
  return [...sqliteUnavailableCodes].some((c) => code === c || code.startsWith(`${c}_`));
}

/** Any store failure that a retry later can cure. */
export function isStoreUnavailable(error: unknown): boolean {
  return error instanceof StoreUnavailableError || isSqliteUnavailable(error);
}

/** A value the client sent that the database cannot store (a NUL character in text, say): a 400, not a 500. */
export function isStoreInputError(error: unknown): boolean {
  return isPgBadInput(error);
}
