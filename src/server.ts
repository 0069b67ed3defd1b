import type { FastifyInstance } from 'fastify';
import { buildApp } from './http/app.js';
import { builtConsoleDir } from './http/console-routes.js';
import { defaultAgentLimits } from './http/agent/agent-limits.js';
import { devSigningKey } from './auth/dev-issuer.js';
import { createTokenVerifier, type TokenVerifier } from './auth/token-verifier.js';
import { trustedIssuers } from './auth/trusted-issuers.js';
import { localTlsCertificate, readTlsFiles } from './auth/tls-certificate.js';
import { consoleOAuthOf, devIssuerEnabled, parseRateLimit, validateServeConfig, type ServeConfig } from './config.js';
import { systemClock, type Clock } from './domain/clock.js';
import { Engine } from './engine/engine.js';
import { defaultTimings } from './engine/engine-timings.js';
import { regenerateSeededDocuments } from './seed/seeded-documents.js';
import { databaseFileWarnings, openStore } from './store/open-store.js';
import pino, { type DestinationStream } from 'pino';
import type { Store } from './store/store.js';

/** How long in-flight requests get to finish on shutdown. */
const shutdownGraceMs = 5000;

export interface RunningServer {
  app: FastifyInstance;
  store: Store;
  engine: Engine;
  /** base URL, e.g. http://127.0.0.1:8080 */
  url: string;
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
  const log = outputs.logDestination ? pino({ level: config.logLevel }, outputs.logDestination) : pino({ level: config.logLevel });
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
    });
    await app.listen({ port: config.port, host: config.host });
    engine.start();
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const url = `${https ? 'https' : 'http'}://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
    return {
      app,
      store,
      engine,
      url,
      async close() {
        // Long-polls are released first, so closing the server does not wait 30 s for them.
        await engine.stop();
        // In-flight requests finish; a connection that never completes a request (a client that
        // opened a socket and went quiet) would hold close() forever, so it is cut after a grace period.
        const closing = app.close();
        const grace = setTimeout(() => app.server.closeAllConnections(), shutdownGraceMs);
        await closing;
        clearTimeout(grace);
        await store.close();
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
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
