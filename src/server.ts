import type { FastifyInstance } from 'fastify';
import { builtConsoleDir } from './http/console-routes.js';
import { buildApp, buildMetricsApp } from './http/app.js';
import { parseBasicCredentials } from './http/metrics-route.js';
import { ServiceMetrics } from './http/service-metrics.js';
import { defaultAgentLimits } from './http/agent/agent-limits.js';
import { devSigningKey } from './auth/dev-issuer.js';
import { createTokenVerifier, type TokenVerifier } from './auth/token-verifier.js';
import { trustedIssuers } from './auth/trusted-issuers.js';
import { localTlsCertificate, readTlsFiles } from './auth/tls-certificate.js';
import { consoleOAuthOf, devIssuerEnabled, logFormatFor, metricsPlacement, parseRateLimit, validateServeConfig, type ServeConfig } from './config.js';
import { systemClock, type Clock } from './domain/clock.js';
import { Engine } from './engine/engine.js';
import { defaultTimings } from './engine/engine-timings.js';
import { regenerateSeededDocuments } from './seed/seeded-documents.js';
import { databaseFileWarnings, openStore } from './store/open-store.js';
import pino, { type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { Store } from './store/store.js';

/** How long in-flight requests get to finish on shutdown. */
const shutdownGraceMs = 5000;

export interface RunningServer {
  app: FastifyInstance;
  store: Store;
  engine: Engine;
  /** base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  /** base URL of the `--metrics-port` listener; null without one */
  metricsUrl: string | null;
  close(): Promise<void>;
}

export interface ServerOutputs {
  /** where log lines go (tests capture them); standard output when absent */
  logDestination?: DestinationStream;
}

/** Opens the store, builds the service and listens; the pieces `serve` and the tests share. */
export async function startServer(config: ServeConfig, outputs: ServerOutputs = {}, clock: Clock = systemClock): Promise<RunningServer> {
  // Before the store opens: a refused configuration (the dev issuer on a public address) must not even touch the data.
  validateServeConfig(config);
  const log = serviceLogger(config, outputs);
  const store = await openStore(config.db, {
    poolSize: config.poolSize,
    seededDocuments: regenerateSeededDocuments,
    scanRowsPerPage: config.scanRowsPerPage,
    artifactDir: config.artifactDir,
  });
  for (const warning of databaseFileWarnings(config.db)) log.warn(warning);
  try {
    const verifyToken = await tokenVerifierFor(config, store);
    const https = config.tlsCert && config.tlsKey
      ? readTlsFiles(config.tlsCert, config.tlsKey)
      : config.tls ? localTlsCertificate(config.db) : null;
    const engine = new Engine(store, {
      ...defaultTimings,
      startTimeoutMs: config.startTimeoutMs,
      runTimeoutMs: config.runTimeoutMs,
      heartbeatTimeoutMs: config.heartbeatTimeoutMs,
      // Presence must reach the store well within the heartbeat timeout, or live devices look silent.
      presenceFlushMs: Math.min(defaultTimings.presenceFlushMs, Math.max(100, Math.floor(config.heartbeatTimeoutMs / 3))),
      schedulerIntervalMs: config.schedulerIntervalMs,
    }, log, clock);
    const metrics = new ServiceMetrics(store, engine, log);
    const metricsCredentials = config.metricsAuth === null ? null : parseBasicCredentials(config.metricsAuth);
    const app = await buildApp({
      store,
      engine,
      verifyToken,
      https,
      bodyLimitBytes: config.bodyLimitBytes,
      rateLimit: parseRateLimit(config.rateLimit),
      agentLimits: {
        ...defaultAgentLimits,
        deviceQuota: config.deviceQuota,
        enrollPerSecond: config.enrollRateLimit,
        devicePerSecond: config.agentRateLimit,
      },
      log: config.logLevel === 'silent' ? null : log,
      connectionLimits: { requestTimeoutMs: config.requestTimeoutMs, maxConnections: config.maxConnections },
      publicUrl: config.publicUrl,
      trustProxy: config.trustProxy,
      console: {
        dir: config.consoleDir ?? builtConsoleDir,
        devSignIn: devIssuerEnabled(config) ? { tenantId: config.tenant, ttlSeconds: config.consoleTokenTtlSeconds } : null,
        oauth: consoleOAuthOf(config),
      },
      metrics,
      metricsRoute: metricsPlacement(config) === 'mainPort' ? { credentials: metricsCredentials } : null,
    });
    if (metricsPlacement(config) === 'off') {
      log.warn(`/metrics is not served: --host ${config.host} is not loopback; give --metrics-auth or --metrics-port to scrape it`);
    }
    await app.listen({ port: config.port, host: config.host });
    const metricsApp = metricsPlacement(config) === 'ownPort' ? await buildMetricsApp(metrics, metricsCredentials, log) : null;
    try {
      await metricsApp?.listen({ port: config.metricsPort ?? 0, host: config.host });
    } catch (error) {
      await app.close();
      throw error;
    }
    engine.start();
    const scheme = https ? 'https' : 'http';
    return {
      app,
      store,
      engine,
      url: listenerUrl(app, scheme, config.host),
      metricsUrl: metricsApp ? listenerUrl(metricsApp, 'http', config.host) : null,
      async close() {
        // Long-polls are released first, so closing the server does not wait 30 s for them.
        await engine.stop();
        // In-flight requests finish; a connection that never completes a request (a client that
        // opened a socket and went quiet) would hold close() forever, so it is cut after a grace period.
        const closing = app.close();
        const grace = setTimeout(() => app.server.closeAllConnections(), shutdownGraceMs);
        await closing;
        clearTimeout(grace);
        await metricsApp?.close();
        await store.close();
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** The address a listener answers at (0.0.0.0 is reached at 127.0.0.1). */
function listenerUrl(app: FastifyInstance, scheme: string, configuredHost: string): string {
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const host = configuredHost.includes(':') ? `[${configuredHost}]` : configuredHost;
  return `${scheme}://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
}

/**
 * The service's logger: JSON lines for collectors, readable lines on a terminal (`npm start`
 * must not greet a person with JSON). Tests capture JSON through `logDestination`.
 */
function serviceLogger(config: ServeConfig, outputs: ServerOutputs): Logger {
  const options = { level: config.logLevel };
  if (outputs.logDestination) return pino(options, outputs.logDestination);
  if (logFormatFor(config, process.stdout.isTTY === true) === 'json') return pino(options);
  return pino(options, pretty({
    colorize: process.stdout.isTTY === true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,requestId,method,route,status,durationMs,tenant,callerType,callerId',
    // A request's line: its summary, then who asked and its id.
    messageFormat: '{msg}{if tenant} tenant={tenant}{end}{if callerId} {callerType}={callerId}{end}{if requestId} request-id={requestId}{end}',
  }));
}

async function tokenVerifierFor(config: ServeConfig, store: Store): Promise<TokenVerifier> {
  const devIssuer = devIssuerEnabled(config);
  // Made now, not on the first token, so a token printed at start (or by `token`) is signed by a kept key.
  if (devIssuer) await devSigningKey(store);
  return createTokenVerifier(trustedIssuers({
    entraTenants: config.entraTenants,
    issuers: config.issuers,
    audiences: config.audiences,
    jwksUrl: config.jwksUrl,
    defaultTenant: config.tenant,
    keyRefreshCooldownMs: config.keyRefreshCooldownMs,
    devKeys: devIssuer ? store : null,
  }));
}
