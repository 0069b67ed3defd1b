import { StoreConflictError, StoreInputError, StoreUnavailableError } from '../store-errors.js';

const unavailableCodes = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND',
  '57P01', '57P02', '57P03', // admin shutdown, crash shutdown, cannot connect now
  '57014', // statement cancelled (statement_timeout)
  '53300', // too many connections
  '55000', // database not accepting connections (ALLOW_CONNECTIONS false)
  '08000', '08001', '08003', '08004', '08006', // connection exceptions
]);
const unavailableMessages = /Connection terminated|connection timeout|Client has encountered a connection error|timeout exceeded when trying to connect|Query read timeout/i;
/** invalid byte sequence, untranslatable character: a NUL in text, say */
const inputCodes = new Set(['22021', '22P05']);

/** pg's error as one of the store's own; anything else (a bug) is returned as it is. */
export function storeErrorFromPostgres(error: unknown): unknown {
  const e = error as { code?: string; message?: string } | null;
  if (!e) return error;
  const message = e.message ?? String(error);
  if ((e.code && unavailableCodes.has(e.code)) || unavailableMessages.test(message)) return new StoreUnavailableError(message, error);
  if (e.code === '23505') return new StoreConflictError(message, error);
  if (e.code && inputCodes.has(e.code)) return new StoreInputError('The request contains characters that cannot be stored (such as U+0000).', error);
  return error;
}
