/**
 * The one registry of errors the service can return. Every 4xx/5xx the edge sends is built
 * from an entry here; anything thrown that is not a ServiceError becomes `generalException`.
 * Every entry is a row of README.md's "Errors" table; test/graph/error-registry.test.ts fails
 * when the two disagree.
 */
export const errorRegistry = {
  invalidRequest: { status: 400, code: 'invalidRequest', message: 'The request is malformed or incorrect.' },
  unauthenticated: { status: 401, code: 'unauthenticated', message: 'Access token is missing or invalid.' },
  accessDenied: { status: 403, code: 'accessDenied', message: 'The caller does not have permission to perform the action.' },
  // The console's dev sign-in mints an admin token: only for a browser on this very machine.
  devSignInRefused: { status: 403, code: 'accessDenied', message: 'Dev sign-in is only for a browser on this machine: a loopback peer, Host and Origin.' },
  itemNotFound: { status: 404, code: 'itemNotFound', message: 'The resource could not be found.' },
  methodNotAllowed: { status: 405, code: 'methodNotAllowed', message: 'The HTTP method is not allowed on this resource.' },
  // Answered on the raw socket: the request's headers and body did not arrive within --request-timeout.
  requestTimeout: { status: 408, code: 'requestTimeout', message: 'The request was not received in time.' },
  conflict: { status: 409, code: 'conflict', message: 'An operation of this kind is already queued for the device.' },
  requestTooLarge: { status: 413, code: 'requestEntityTooLarge', message: 'The request body is too large.' },
  unsupportedMediaType: { status: 415, code: 'unsupportedMediaType', message: 'The request body must be application/json.' },
  // OneDrive's code for a Range outside the file; the reply's Content-Range gives the size.
  rangeNotSatisfiable: { status: 416, code: 'invalidRange', message: 'The requested range is not satisfiable.' },
  // A $batch sub-response only: a request whose dependsOn names a request that failed is not run.
  failedDependency: { status: 424, code: 'failedDependency', message: 'The request was not run because a request it depends on failed.' },
  // Answered on the raw socket: Node's HTTP parser refuses the request before any route runs.
  headersTooLarge: { status: 431, code: 'invalidRequest', message: 'The request headers are too large.' },
  activityLimitReached: { status: 429, code: 'activityLimitReached', message: 'The app or user has been throttled.' },
  generalException: { status: 500, code: 'generalException', message: 'An unspecified error has occurred.' },
  // Only `tsc` ran: the server works, the console's files were never built.
  consoleNotBuilt: { status: 503, code: 'consoleNotBuilt', message: 'The web console is not built: run npm run build, then restart the server.' },
  serviceNotAvailable: { status: 503, code: 'serviceNotAvailable', message: 'The service is temporarily unavailable. Retry after the indicated time.' },
} as const;

export type ErrorName = keyof typeof errorRegistry;

/** An error with a registry entry; the edge turns it into a Graph error body. */
export class ServiceError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(
    readonly kind: ErrorName,
    message?: string,
    readonly headers: Record<string, string> = {},
  ) {
    const entry = errorRegistry[kind];
    super(message ?? entry.message);
    this.status = entry.status;
    this.code = entry.code;
  }
}

export const badRequest = (message: string) => new ServiceError('invalidRequest', message);
export const notFound = (message: string) => new ServiceError('itemNotFound', message);
