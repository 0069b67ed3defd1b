import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Level, Logger } from 'pino';
import type {} from './device-credentials.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** routes polled by machines (health probes, metrics scrapes): logged at debug, never shed */
    probe?: boolean;
  }
}

/** The route pattern of requests no route matched, so a scan of random URLs adds one label, not thousands. */
export const unmatchedRoute = 'unmatched';

/** The route pattern a request matched (`/beta/teamwork/devices/:deviceId`), never the raw URL with its ids. */
export function routeOf(request: FastifyRequest): string {
  return request.routeOptions.url ?? unmatchedRoute;
}

/**
 * The level of a request's log line. The Graph API (and anything else a person or script
 * calls) logs at info; the agent protocol (every device long-polls and reports, so 10,000
 * devices make thousands of requests a minute) and probes log at debug; a 5xx logs at
 * warn whatever the route, since it is what an operator must see.
 */
export function requestLogLevel(route: string, probe: boolean, status: number): Level {
  if (status >= 500) return 'warn';
  return probe || route.startsWith('/agent/') ? 'debug' : 'info';
}

/**
 * Logs every request once, when its reply is sent: request id, method, route pattern, status,
 * duration, tenant and caller (the token's user or application id, or the device). Never the
 * URL's query, headers or body, which may carry tokens and credentials.
 */
export function installRequestLog(app: FastifyInstance, log: Logger): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = routeOf(request);
    const level = requestLogLevel(route, request.routeOptions.config?.probe === true, reply.statusCode);
    // An agent request at the default level (info) costs this one comparison.
    if (!log.isLevelEnabled(level)) return;
    const caller = request.caller;
    const device = request.device;
    const durationMs = Math.round(reply.elapsedTime * 100) / 100;
    log[level]({
      requestId: request.id,
      method: request.method,
      route,
      status: reply.statusCode,
      durationMs,
      // Flat and only when known: collectors index top-level fields, and an anonymous request has none.
      ...(caller ? { tenant: caller.tenantId, callerType: caller.kind, callerId: caller.id }
        : device ? { tenant: device.tenantId, callerType: 'device', callerId: device.deviceId } : {}),
    }, `${request.method} ${route} ${reply.statusCode} ${durationMs} ms`);
  });
}
