/**
 * The store's own errors. The dialect drivers turn their database's errors into these, so
 * nothing above the store knows a driver's error codes.
 */

/**
 * The database cannot serve right now (connection lost, SQLite busy or disk full, a statement
 * over its time limit). The edge answers 503 with Retry-After; the request changed nothing.
 */
export class StoreUnavailableError extends Error {
  constructor(readonly reason: string, cause?: unknown) {
    super(`The database is unavailable: ${reason}`, { cause });
  }
}

/** A value the client sent that the database cannot store (a NUL character in text, say): a 400, not a 500. */
export class StoreInputError extends Error {
  constructor(reason: string, cause?: unknown) {
    super(reason, { cause });
  }
}

/** A unique index turned a write away; the store decides what that means (a 409, a lost race). */
export class StoreConflictError extends Error {
  constructor(reason: string, cause?: unknown) {
    super(reason, { cause });
  }
}
