import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Logger } from 'pino';
import type { TokenVerifier } from '../auth/token-verifier.js';
import type { Engine } from '../engine/engine.js';
import type { Store } from '../store/store.js';
import { AgentThrottle, defaultAgentLimits, type AgentLimits } from './agent/agent-limits.js';
import { addAgentRoutes } from './agent/agent-routes.js';
import { DeviceCredentialVerifier } from './device-credentials.js';
import { clientError, frameworkError, installGraphEdge, newRequestId } from './edge.js';
import { addAdministrationRoutes } from './graph/administration-routes.js';
import { addRolloutRoutes } from './graph/rollout-routes.js';
import { addBatchRoutes } from './graph/batch-routes.js';
import { addDeviceRoutes } from './graph/device-routes.js';
import { addOperationRoutes } from './graph/operation-routes.js';
import { addOperationEventRoutes } from './graph/operation-events-route.js';
import { addMaintenanceWindowRoutes } from './graph/maintenance-window-routes.js';
import { addSubscriptionRoutes } from './graph/subscription-routes.js';
import { applyConnectionLimits, type ConnectionLimits } from './connection-limits.js';
import { addConsoleRoutes, type ConsoleOptions } from './console-routes.js';
import { installJsonBodies } from './json-bodies.js';
import { defaultSheddingLimits, installLoadShedding, type SheddingLimits } from './load-shedding.js';
import { rateLimitRules } from './rate-limits.js';
import { addApiDescriptionRoutes, installApiDescription } from './openapi.js';
import { installGraphAuth } from './request-caller.js';
import { RouteTable } from './route-table.js';
import { requestValidation } from './request-validation.js';
import { installServiceUrl } from './service-url.js';
import { installSubRequests } from './sub-requests.js';
import { installTenantShares, TenantShares } from './tenant-shares.js';
import { addHealthRoutes } from './health-routes.js';
import { addMetricsRoute, type BasicCredentials } from './metrics-route.js';
import { installRequestLog } from './request-log.js';
import type { ServiceMetrics } from './service-metrics.js';

export interface AppOptions {
  store: Store;
  engine: Engine;
  verifyToken: TokenVerifier;
  /** the service's logger; none when absent */
  log?: Logger | null;
  https?: { key: string | Buffer; cert: string | Buffer } | null;
  bodyLimitBytes?: number;
  /** throttling: N requests per second per tenant and application, 'graph', or null (off) */
  rateLimit?: number | 'graph' | null;
  shedding?: SheddingLimits;
  /** device quota and the agent routes' rate limits */
  agentLimits?: AgentLimits;
  /** request timeout and connection cap; Node's defaults (no request timeout, no cap) when absent */
  connectionLimits?: ConnectionLimits;
  /** base of absolute links (`--public-url`); null: the request's scheme and host */
  publicUrl?: string | null;
  /** proxies (addresses, CIDRs) whose X-Forwarded-* headers are believed; none when empty */
  trustProxy?: string[];
  /** the web console at `/`; none when absent */
  console?: ConsoleOptions | null;
  /** request metrics are recorded here; none when absent */
  metrics?: ServiceMetrics | null;
  /** serve `/metrics` on this app (with basic auth when credentials are given); null: not here */
  metricsRoute?: { credentials: BasicCredentials | null } | null;
}

/** Builds the whole HTTP service without listening, so tests can use it over a socket or inject(). */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.log ? { loggerInstance: options.log } : { logger: false }),
    // Fastify's own two lines per request are replaced by one of request-log.ts, whose level keeps
    // 10,000 long-polling devices from drowning everything else.
    logController: new LogController({ disableRequestLogging: true }),
    // Graph matches path segments case-insensitively (its permission map lower-cases actions).
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true },
    genReqId: newRequestId,
    requestIdHeader: false,
    bodyLimit: options.bodyLimitBytes ?? 64 * 1024,
    // OData's key syntax devices('{id}') is the same resource as devices/{id}.
    rewriteUrl: (request) => (request.url ?? '/').replace(/\/devices\('([^'/?]*)'\)/i, '/devices/$1'),
    frameworkErrors: frameworkError,
    clientErrorHandler: clientError,
    // Closing is answered by our own onRequest hook with a Graph 503 and Retry-After.
    return503OnClosing: false,
    ...(options.https ? { https: options.https } : {}),
    // Fastify (proxy-addr) believes X-Forwarded-* only from a peer in this list.
    trustProxy: options.trustProxy?.length ? options.trustProxy : false,
    ...requestValidation(),
  } as FastifyServerOptions);
  await installApiDescription(app);
  if (options.connectionLimits) applyConnectionLimits(app, options.connectionLimits, options.log ?? null);
  installServiceUrl(app, options.publicUrl ?? null);

  installGraphEdge(app);
  if (options.log) installRequestLog(app, options.log);
  options.metrics?.install(app);
  installSubRequests(app);
  installLoadShedding(app, options.shedding ?? defaultSheddingLimits);
  installJsonBodies(app);
  installGraphAuth(app, options.verifyToken, options.store, rateLimitRules(options.rateLimit ?? null), options.engine);
  // PostgreSQL's backends scan at this process's priority (SQLite's reader processes at nice 10): there a backlog rests between turns.
  const restBetweenTurns = options.store.monitor.connections().kind === 'postgres';
  installTenantShares(app, new TenantShares({ restBetweenTurns, onWait: () => options.metrics?.readWaited() }));

  const credentials = new DeviceCredentialVerifier(options.store, (tenantId, actor, reason) => options.engine.authenticationFailed(tenantId, actor, reason));
  const routes = new RouteTable(app);
  addDeviceRoutes(routes, options.store);
  addOperationRoutes(routes, options.store, options.engine);
  addAdministrationRoutes(routes, options.store, options.engine, credentials);
  addMaintenanceWindowRoutes(routes, options.store, options.engine);
  addRolloutRoutes(routes, options.engine);
  addSubscriptionRoutes(routes, options.engine);
  addBatchRoutes(routes);
  routes.closeWith405();
  // Streams have no end a $batch could wait for: their own table, which batches cannot reach.
  const streamRoutes = new RouteTable(app, undefined, false);
  addOperationEventRoutes(streamRoutes, options.store, options.engine);
  streamRoutes.closeWith405();
  addHealthRoutes(app, options.store, options.log ?? null);
  if (options.metrics && options.metricsRoute) addMetricsRoute(app, options.metrics, options.metricsRoute.credentials);
  const agentRoutes = new RouteTable(app, [''], false);
  addAgentRoutes(app, agentRoutes, options.engine, credentials, new AgentThrottle(options.agentLimits ?? defaultAgentLimits));
  agentRoutes.closeWith405();
  if (options.console) await addConsoleRoutes(app, options.console, options.store);
  await addApiDescriptionRoutes(app);
  return app;
}

/** The listener of `--metrics-port`: `/metrics` alone, with the edge's error replies. */
export async function buildMetricsApp(metrics: ServiceMetrics, credentials: BasicCredentials | null, log: Logger | null): Promise<FastifyInstance> {
  const app = Fastify({
    ...(log ? { loggerInstance: log } : { logger: false }),
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: newRequestId,
    requestIdHeader: false,
    return503OnClosing: false,
  } as FastifyServerOptions);
  installGraphEdge(app);
  addMetricsRoute(app, metrics, credentials);
  return app;
}
