/** A Graph error reply, with what an operator needs to act on it: status, code, message, and the request id to quote. */
export class GraphError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    /** the Graph body's `error.code`; null when the body was not a Graph error (a proxy's page) */
    readonly code: string | null,
    readonly detail: string,
    readonly requestId: string | null,
  ) {
    super(`${method} ${readable(path)} → ${status} ${code ? `${code}: ` : ''}${detail}${requestId ? ` (request-id ${requestId})` : ''}${advice(status)}`);
  }
}

/** A path as people write it: `$filter=deviceType eq 'x'`, not its percent-encoding. */
function readable(path: string): string {
  try {
    return decodeURIComponent(path.replace(/\+/g, ' '));
  } catch {
    return path;
  }
}

/** The server could not be reached at all (no HTTP answer): refused, unknown host, reset, timed out. */
export class UnreachableError extends Error {
  constructor(readonly url: string, reason: string) {
    super(`cannot reach ${url}: ${reason}`);
  }
}

/** One request of a `$batch`, its `url` relative to the version (`/teamwork/devices/…`). */
export interface BatchRequest {
  id: string;
  method: 'GET' | 'POST';
  url: string;
  body?: unknown;
}

/** One answer of a `$batch`: the request's own status, headers (Graph's spelling) and body. */
export interface BatchResponse {
  id: string;
  status: number;
  headers: Record<string, string>;
  body?: unknown;
}

/** Waits of a retried request (a 429 or 503 with Retry-After) before the client gives up and reports the error. */
const maxRetries = 5;
/** The longest Retry-After honoured: a server asking for more is reported, not waited for. */
const maxRetryAfterSeconds = 120;

/**
 * A minimal Graph client for the CLI: base URL, bearer token, Graph errors as GraphError, a
 * server that cannot be reached as UnreachableError. Reads and batches are sent again after a
 * 429 or 503 once the `Retry-After` has passed; a direct action is not (a 503 may come after
 * the operation was created).
 */
export class GraphClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async get<T = Record<string, unknown>>(path: string): Promise<T> {
    const response = await this.send('GET', path, undefined, true);
    return (await response.json()) as T;
  }

  /** POSTs an action; returns the operation path from `Location`. */
  async action(path: string, body: unknown): Promise<string> {
    const response = await this.send('POST', path, body);
    const location = response.headers.get('location');
    if (!location) throw new Error(`the server answered ${response.status} without a Location header`);
    return location;
  }

  /** A POST or PATCH whose answer is a JSON entity (the extensions' 201s and 200s). */
  async json<T = Record<string, unknown>>(method: 'POST' | 'PATCH', path: string, body?: unknown): Promise<T> {
    return (await (await this.send(method, path, body)).json()) as T;
  }

  /** POSTs or DELETEs where the answer is the status alone (the extensions' 204s). */
  async call(method: 'POST' | 'DELETE', path: string): Promise<number> {
    return (await this.send(method, path)).status;
  }

  /**
   * Sends up to 20 requests as one `POST /beta/$batch`; the answers in the order of `requests`.
   * Each request's own 429 or 503 is in its answer, for the caller to send again.
   */
  async batch(requests: BatchRequest[]): Promise<BatchResponse[]> {
    const body = {
      requests: requests.map((r) => ({
        id: r.id,
        method: r.method,
        url: r.url,
        ...(r.body === undefined ? {} : { body: r.body, headers: { 'Content-Type': 'application/json' } }),
      })),
    };
    const response = await this.send('POST', '/beta/$batch', body, true);
    const { responses } = (await response.json()) as { responses: BatchResponse[] };
    const byId = new Map(responses.map((r) => [String(r.id), r]));
    return requests.map((r) => {
      const answer = byId.get(r.id);
      if (!answer) throw new Error(`the $batch answer has no response for request '${r.id}'`);
      return answer;
    });
  }

  private async send(method: string, path: string, body?: unknown, retryable = false): Promise<Response> {
    const url = path.startsWith('http') ? path : `${this.baseUrl}${path}`;
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await fetch(url, {
          method,
          headers: {
            authorization: `Bearer ${this.token}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (error) {
        throw new UnreachableError(new URL(url).origin, unreachableReason(error));
      }
      if (response.status < 400) return response;
      const wait = retryAfterSeconds(response.headers.get('retry-after'));
      if (retryable && (response.status === 429 || response.status === 503) && attempt < maxRetries && wait <= maxRetryAfterSeconds) {
        await response.arrayBuffer();
        await new Promise((resolve) => setTimeout(resolve, wait * 1000));
        continue;
      }
      throw await graphErrorOf(method, path, response);
    }
  }
}

/** The error a reply of 400 or more is: the Graph body's code and message, or the text as it came. */
async function graphErrorOf(method: string, path: string, response: Response): Promise<GraphError> {
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (a proxy's page, say): shown as it came
  }
  return errorOfBody(method, path, response.status, body, response.headers.get('request-id'));
}

/** The error a `$batch` answer of 400 or more is, as if its request had been sent alone. */
export function graphErrorOfAnswer(method: string, path: string, answer: BatchResponse): GraphError {
  return errorOfBody(method, path, answer.status, answer.body, answer.headers['request-id'] ?? null);
}

function errorOfBody(method: string, path: string, status: number, body: unknown, requestId: string | null): GraphError {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (typeof error?.code === 'string') return new GraphError(method, path, status, error.code, String(error.message), requestId);
  const text = typeof body === 'string' ? body : JSON.stringify(body ?? '');
  return new GraphError(method, path, status, null, text.trim().slice(0, 300) || `HTTP ${status}`, requestId);
}

/** What to do about a refused token: 401 and 403 mean different things, and neither says how to mend it. */
function advice(status: number): string {
  if (status === 401) {
    return '\nThe server refused the token (401): it is missing, malformed, expired, or from an issuer this server does not trust.'
      + ' Get a new one (for a local server: export TOKEN=$(npx teamwork-devices token)) and give it with --token, TEAMWORK_DEVICES_TOKEN or TOKEN.';
  }
  if (status === 403) {
    return '\nThe server accepted the token but it lacks the permission (403): reading devices needs TeamworkDevice.Read.All or'
      + ' TeamworkDevice.ReadWrite.All, actions need TeamworkDevice.ReadWrite.All (personal Microsoft accounts are always refused).';
  }
  return '';
}

/** Retry-After in seconds (delta-seconds or an HTTP date); 1 when absent or unreadable. */
export function retryAfterSeconds(value: string | null | undefined): number {
  if (!value) return 1;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const date = Date.parse(value);
  return Number.isNaN(date) ? 1 : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/** fetch's TypeError says only "fetch failed"; its cause has the system's reason. */
function unreachableReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const reasons: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'no such host',
    EAI_AGAIN: 'the host name could not be resolved (EAI_AGAIN)',
    ECONNRESET: 'the connection was reset',
    UND_ERR_SOCKET: 'the connection was closed before an answer',
    ETIMEDOUT: 'connection timed out',
    UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
  };
  return (cause?.code && reasons[cause.code]) || cause?.message || (error as Error).message;
}
