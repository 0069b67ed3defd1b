import { linkedAbort } from '../domain/linked-abort.js';

/**
 * How the agent client puts one request on the wire. Two implementations: fetch (the default;
 * https, abort signals) and node:http with a keep-alive agent (node-http-transport.ts) for
 * fleets of thousands of devices in one process.
 */

export interface AgentRequest {
  method: string;
  /** path and query, e.g. /agent/v1/work?waitSeconds=30 */
  path: string;
  headers: Record<string, string>;
  body: string | undefined;
  timeoutMs: number;
  signal: AbortSignal | undefined;
}

/** Header names are lower case, as node:http gives them. */
export type AgentResponseHeaders = Readonly<Record<string, string | string[] | undefined>>;

export interface AgentResponse {
  status: number;
  /** the whole body, read so that the connection goes back to the pool */
  text: string;
  headers: AgentResponseHeaders;
}

/** Sends one request; rejects on a network error, a timeout or an abort, never on a status. */
export type AgentTransport = (request: AgentRequest) => Promise<AgentResponse>;

/** A transport over the global fetch, against `baseUrl`. */
export function fetchTransport(baseUrl: string): AgentTransport {
  const base = baseUrl.replace(/\/+$/, '');
  return async (request) => {
    const abort = linkedAbort([request.signal], request.timeoutMs);
    try {
      const response = await fetch(base + request.path, { method: request.method, headers: request.headers, body: request.body, signal: abort.signal });
      const text = await response.text();
      return { status: response.status, text, headers: Object.fromEntries(response.headers) };
    } finally {
      abort.release();
    }
  };
}
