import http from 'node:http';
import type { AgentTransport } from './agent-transport.js';

/**
 * A transport over node:http and one keep-alive agent, for thousands of long-polling devices
 * in one process: fetch costs far more memory and CPU per request at that scale. Plain http
 * only. Destroy the agent to drop every connection at once.
 */
export function nodeHttpTransport(baseUrl: string, agent: http.Agent): AgentTransport {
  const base = new URL(baseUrl);
  if (base.protocol !== 'http:') throw new Error(`the node:http transport speaks plain http, not ${base.protocol}`);
  const host = base.hostname;
  const port = base.port;
  return (request) =>
    new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = request.headers;
      if (request.body !== undefined) headers['content-length'] = Buffer.byteLength(request.body);
      const outgoing = http.request(
        { host, port, method: request.method, path: request.path, headers, agent, signal: request.signal },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, text, headers: response.headers }));
          response.on('error', reject);
        },
      );
      outgoing.setTimeout(request.timeoutMs, () => outgoing.destroy(new Error(`${request.method} ${request.path} timed out after ${request.timeoutMs} ms`)));
      outgoing.on('error', reject);
      outgoing.end(request.body);
    });
}
