import http from 'node:http';

/**
 * HTTP with node:http, for what fetch cannot do: a request whose body is still being sent
 * (a request the server has routed but not finished: "in flight"), and a choice between
 * one connection per request (`Connection: close`) and a keep-alive agent.
 */

export interface PlainResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** Date.now() when the response ended */
  at: number;
}

export interface PlainRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** a keep-alive agent, or none: one connection per request, closed after it */
  agent?: http.Agent;
  signal?: AbortSignal;
}

/** One request; rejects on a network error (refused, reset). */
export function plainRequest(url: string, options: PlainRequestOptions = {}): Promise<PlainResponse> {
  const pending = startRequest(url, options);
  pending.request.end(options.body);
  return pending.response;
}

export interface InFlightRequest {
  request: http.ClientRequest;
  response: Promise<PlainResponse>;
  /** sends the rest of the body and ends the request */
  finish(): void;
}

/**
 * Sends the headers and the first `sentBytes` bytes of `body` now; the rest only when
 * `finish()` is called. Until then the server has routed the request and waits for its body.
 */
export function inFlightRequest(url: string, body: string, sentBytes: number, options: PlainRequestOptions = {}): InFlightRequest {
  const bytes = Buffer.from(body);
  const pending = startRequest(url, {
    method: 'POST',
    ...options,
    headers: { 'content-type': 'application/json', 'content-length': String(bytes.length), ...options.headers },
  });
  pending.request.flushHeaders();
  pending.request.write(bytes.subarray(0, sentBytes));
  return {
    request: pending.request,
    response: pending.response,
    finish: () => pending.request.end(bytes.subarray(sentBytes)),
  };
}

function startRequest(url: string, options: PlainRequestOptions): { request: http.ClientRequest; response: Promise<PlainResponse> } {
  let request!: http.ClientRequest;
  const response = new Promise<PlainResponse>((done, fail) => {
    request = http.request(url, {
      method: options.method ?? 'GET',
      headers: options.headers,
      agent: options.agent ?? false,
      signal: options.signal,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'), at: Date.now() }));
      res.on('error', fail);
    });
    request.on('error', fail);
  });
  return { request, response };
}
