import type { Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';

export interface ConnectionLimits {
  /** a request's headers and body must arrive within this (Fastify's requestTimeout) */
  requestTimeoutMs: number;
  /** open connections; past it Node closes new ones as soon as they are accepted */
  maxConnections: number;
}

/** Headers get less time than the whole request: a client that cannot send them in 10 s is not a device on a slow link. */
const maxHeadersTimeoutMs = 10_000;
/** At most one warning this often while connections are being refused, so a flood cannot flood the log too. */
const dropWarningIntervalMs = 10_000;

/**
 * Bounds what a client that opens sockets and sends slowly can hold: Node closes a connection
 * whose request has not fully arrived in time (answered 408 by the edge's clientError), and
 * refuses connections past the cap. Timeouts cover receiving a request only, so a long-poll
 * that holds its answer for 30 s, or an artifact download that takes an hour on a slow link,
 * is not cut by them (test/agent/artifact-streaming.test.ts holds one past the timeout).
 */
export function applyConnectionLimits(app: FastifyInstance, limits: ConnectionLimits, log: Logger | null): void {
  // connectionsCheckingInterval is read when the server starts listening; @types/node lacks it.
  const server = app.server as Server & { connectionsCheckingInterval: number };
  server.requestTimeout = limits.requestTimeoutMs;
  server.headersTimeout = Math.min(maxHeadersTimeoutMs, limits.requestTimeoutMs);
  // Node checks the timeouts on this interval (default 30 s, which would double a 30 s timeout).
  // It walks only connections with a request still arriving, so a short interval stays cheap.
  server.connectionsCheckingInterval = Math.max(50, Math.min(1000, Math.floor(limits.requestTimeoutMs / 4)));
  server.maxConnections = limits.maxConnections;
  let quietUntil = 0;
  let unreported = 0;
  server.on('drop', () => {
    unreported += 1;
    const now = Date.now();
    if (now < quietUntil) return;
    log?.warn({ maxConnections: limits.maxConnections, droppedConnections: unreported },
      `connection limit reached (--max-connections ${limits.maxConnections}): new connections are being closed`);
    unreported = 0;
    quietUntil = now + dropWarningIntervalMs;
  });
}
