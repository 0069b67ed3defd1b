import { isIP } from 'node:net';
import { entraIssuersOf } from './auth/entra-issuers.js';
import { keyUrlProblem } from './auth/key-sources.js';
import { isLoopbackHost } from './domain/loopback-host.js';

/**
 * Configuration of `serve`: one validated object, resolved once at start-up.
 * Precedence: command-line flag → environment variable → default (see README "Configuration").
 */
export interface ServeConfig {
  port: number;
  host: string;
  /** SQLite file path (postgres:// URLs come with the PostgreSQL store) */
  db: string;
  /** tenant of the demo data and of the token printed at start */
  tenant: string;
  /** seed this many demo devices when the tenant has none */
  demoDevices: number;
  tls: boolean;
  tlsCert: string | null;
  tlsKey: string | null;
  /** production identity: Entra ID tenants (an allow-list) and other OpenID issuers */
  entraTenants: string[];
  issuers: string[];
  /** accepted `aud` values of production tokens */
  audiences: string[];
  /** keys of the production issuers; null: Entra's common keys, discovery for `issuers` */
  jwksUrl: string | null;
  /** the built-in dev issuer: 'auto' is on only when no production issuer is configured (see devIssuerEnabled) */
  devIssuer: 'auto' | 'on' | 'off';
  /** least time between two key refetches caused by tokens naming an unknown kid */
  keyRefreshCooldownMs: number;
  bodyLimitBytes: number;
  logLevel: string;
  /** 'json' (one object a line, for collectors), 'pretty' (readable lines), or null: pretty on a terminal, else json */
  logFormat: 'json' | 'pretty' | null;
  /** `user:password` a scrape of /metrics must present (basic auth); null: none */
  metricsAuth: string | null;
  /** serve /metrics on this port (same --host) instead of the main one; null: the main port */
  metricsPort: number | null;
  /** engine deadlines (see EngineTimings) */
  startTimeoutMs: number;
  runTimeoutMs: number;
  heartbeatTimeoutMs: number;
  /** run this many simulated devices inside the server, enrolled in `tenant` */
  simulate: number;
  simUpdateMs: number;
  simFailureRate: number;
  /** throttling: requests per second per tenant and application, 'graph', or null (off) */
  rateLimit: string | null;
  /** PostgreSQL connection pool size per process */
  poolSize: number;
  /** how often the schedulers look for due work (no flag: tests lower it so a scheduled change shows quickly) */
  schedulerIntervalMs: number;
  /** devices a filtered list page examines at most (no flag: tests lower it to see short pages) */
  scanRowsPerPage: number;
  /** devices enrollment tokens may bring into one tenant */
  deviceQuota: number;
  /** enrollments per second per source address; null: no limit */
  enrollRateLimit: number | null;
  /** agent requests per second per device credential; null: no limit */
  agentRateLimit: number | null;
  /** a request's headers and body must arrive within this; answers (long-polls) are not bounded by it */
  requestTimeoutMs: number;
  /** open connections per process; past it new connections are closed at once and a warning is logged */
  maxConnections: number;
  /** base of the absolute links the service writes (`@odata.nextLink`, `@odata.context`); null: from the request */
  publicUrl: string | null;
  /** proxies (addresses or CIDRs) whose X-Forwarded-Proto/-Host/-For are believed; empty: none */
  trustProxy: string[];
  /** uploaded artifacts as files in this directory (shared by replicas); null: SQLite's data directory, PostgreSQL's database */
  artifactDir: string | null;
  /** the console's OAuth client (authorization code with PKCE at the first production issuer); null: no OAuth sign-in */
  consoleClientId: string | null;
  /** the scope the console asks for; null: the first `--audience` + `/.default` */
  consoleScope: string | null;
  /** lifetime of the console's dev sign-in tokens (no flag: tests shorten it to see one expire) */
  consoleTokenTtlSeconds: number;
  /** the built console's folder (no flag: tests point it at an empty one); null: dist/console */
  consoleDir: string | null;
}

export const demoTenant = '6d1a2c3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
export const defaultDbPath = './data/teamwork-devices.db';

export const serveDefaults: ServeConfig = {
  port: 8080,
  host: '127.0.0.1',
  db: defaultDbPath,
  tenant: demoTenant,
  demoDevices: 0,
  tls: false,
  tlsCert: null,
  tlsKey: null,
  entraTenants: [],
  issuers: [],
  audiences: [],
  jwksUrl: null,
  devIssuer: 'auto',
  keyRefreshCooldownMs: 30_000,
  bodyLimitBytes: 64 * 1024,
  logLevel: 'info',
  logFormat: null,
  metricsAuth: null,
  metricsPort: null,
  startTimeoutMs: 24 * 3600_000,
  runTimeoutMs: 3600_000,
  heartbeatTimeoutMs: 90_000,
  simulate: 0,
  simUpdateMs: 3000,
  simFailureRate: 0.05,
  rateLimit: null,
  poolSize: 10,
  scanRowsPerPage: 5000,
  schedulerIntervalMs: 1000,
  deviceQuota: 100_000,
  enrollRateLimit: 5,
  agentRateLimit: 10,
  requestTimeoutMs: 30_000,
  // 18,000 long-polling devices (issue 16's target for one process) plus 1,000 admin and console
  // connections, leaving about 1,000 of a process's 20,000 open files for the database, its pool,
  // logs and the listening socket.
  maxConnections: 19_000,
  publicUrl: null,
  trustProxy: [],
  artifactDir: null,
  consoleClientId: null,
  consoleScope: null,
  consoleTokenTtlSeconds: 3600,
  consoleDir: null,
};

export const isGuid = (value: string): boolean => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);

/** Checks a resolved configuration; throws one message listing every problem. */
export function validateServeConfig(config: ServeConfig): ServeConfig {
  const problems: string[] = [];
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) problems.push('--port must be 0..65535');
  if (!isGuid(config.tenant)) problems.push('--tenant must be a GUID');
  if (!Number.isInteger(config.demoDevices) || config.demoDevices < 0) problems.push('--demo-devices must be a whole number');
  if (!Number.isInteger(config.simulate) || config.simulate < 0) problems.push('--simulate must be a whole number');
  if (!(config.simFailureRate >= 0 && config.simFailureRate <= 1)) problems.push('--sim-failure-rate must be between 0 and 1');
  for (const [name, ms] of [['--start-timeout', config.startTimeoutMs], ['--run-timeout', config.runTimeoutMs], ['--heartbeat-timeout', config.heartbeatTimeoutMs]] as const) {
    if (!(ms > 0)) problems.push(`${name} must be positive`);
  }
  try {
    parseRateLimit(config.rateLimit);
  } catch (error) {
    problems.push((error as Error).message);
  }
  if (!Number.isInteger(config.poolSize) || config.poolSize < 1) problems.push('--pool-size must be at least 1');
  if (!Number.isInteger(config.scanRowsPerPage) || config.scanRowsPerPage < 1) problems.push('the devices a list page examines must be at least 1');
  if (!Number.isInteger(config.deviceQuota) || config.deviceQuota < 0) problems.push('--device-quota must be a whole number');
  for (const [name, rate] of [['--enroll-rate-limit', config.enrollRateLimit], ['--agent-rate-limit', config.agentRateLimit]] as const) {
    if (rate !== null && !(rate > 0)) problems.push(`${name} must be a positive number or 'off'`);
  }
  if (!(config.requestTimeoutMs >= 1)) problems.push('--request-timeout must be at least 1 ms');
  if (!Number.isInteger(config.maxConnections) || config.maxConnections < 1) problems.push('--max-connections must be at least 1');
  if (config.publicUrl !== null && !isPublicUrl(config.publicUrl)) problems.push('--public-url must be an http:// or https:// URL without query or fragment');
  const untrustable = config.trustProxy.filter((entry) => !isProxyAddress(entry));
  if (untrustable.length) problems.push(`--trust-proxy takes IP addresses or CIDR ranges (or loopback, linklocal, uniquelocal), got ${untrustable.map((e) => `'${e}'`).join(', ')}`);
  problems.push(...observabilityProblems(config));
  if ((config.tlsCert === null) !== (config.tlsKey === null)) problems.push('--tls-cert and --tls-key go together');
  problems.push(...identityProblems(config));
  if (problems.length) throw new Error(`Invalid configuration: ${problems.join('; ')}`);
  return config;
}

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function observabilityProblems(config: ServeConfig): string[] {
  const problems: string[] = [];
  if (!logLevels.includes(config.logLevel)) problems.push(`--log-level must be one of ${logLevels.join(', ')}, got '${config.logLevel}'`);
  if (config.logFormat !== null && config.logFormat !== 'json' && config.logFormat !== 'pretty') problems.push(`--log-format must be json or pretty, got '${config.logFormat}'`);
  if (config.metricsAuth !== null && !/^[^:]+:.+$/s.test(config.metricsAuth)) problems.push('--metrics-auth must be user:password (neither empty)');
  if (config.metricsPort !== null) {
    if (!Number.isInteger(config.metricsPort) || config.metricsPort < 0 || config.metricsPort > 65535) problems.push('--metrics-port must be 0..65535');
    else if (config.metricsPort !== 0 && config.metricsPort === config.port) problems.push('--metrics-port must differ from --port');
  }
  return problems;
}

/**
 * Where `/metrics` is served: on its own port when one is given; else on the main port when a
 * password protects it or the main port is only reachable from this machine (loopback); else
 * nowhere (a public address would hand every visitor the fleet's numbers).
 */
export function metricsPlacement(config: ServeConfig): 'ownPort' | 'mainPort' | 'off' {
  if (config.metricsPort !== null) return 'ownPort';
  return config.metricsAuth !== null || isLoopbackHost(config.host) ? 'mainPort' : 'off';
}

/** The log format to write: the flag's, else readable lines on a terminal and JSON everywhere else. */
export function logFormatFor(config: ServeConfig, isTerminal: boolean): 'json' | 'pretty' {
  return config.logFormat ?? (isTerminal ? 'pretty' : 'json');
}

function isPublicUrl(text: string): boolean {
  if (!URL.canParse(text)) return false;
  const url = new URL(text);
  return (url.protocol === 'http:' || url.protocol === 'https:') && !url.search && !url.hash && !url.username && !url.password;
}

/** An address, CIDR range or proxy-addr's named range, as Fastify's trustProxy takes it; checked here so a typo fails at start, by name. */
function isProxyAddress(entry: string): boolean {
  if (entry === 'loopback' || entry === 'linklocal' || entry === 'uniquelocal') return true;
  const [address, bits, extra] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
}

/** `--trust-proxy` values: repeatable, each a comma-separated list. */
export function parseTrustProxy(values: readonly string[]): string[] {
  return values.flatMap((value) => value.split(',')).map((entry) => entry.trim()).filter((entry) => entry !== '');
}

/** A production issuer is configured: Entra ID tenants or other OpenID issuers. */
export function hasProductionIssuer(config: ServeConfig): boolean {
  return config.entraTenants.length > 0 || config.issuers.length > 0;
}

/**
 * Whether the dev issuer accepts tokens. 'auto' means "only when nothing else can": a server
 * given a production issuer does not also accept tokens anyone with the database can mint.
 */
export function devIssuerEnabled(config: ServeConfig): boolean {
  return config.devIssuer === 'on' || (config.devIssuer === 'auto' && !hasProductionIssuer(config));
}

/**
 * The console's OAuth sign-in: the first production issuer (an `--issuer`, else the first
 * Entra tenant's v2.0 issuer), the client and the scope; null without `--console-client-id`.
 */
export function consoleOAuthOf(config: ServeConfig): { issuer: string; clientId: string; scope: string } | null {
  if (config.consoleClientId === null) return null;
  const issuer = config.issuers[0] ?? entraIssuersOf(config.entraTenants[0])[1];
  const scope = config.consoleScope ?? `${config.audiences[0]}/.default`;
  return { issuer, clientId: config.consoleClientId, scope };
}

function identityProblems(config: ServeConfig): string[] {
  const problems: string[] = [];
  for (const tenant of config.entraTenants) if (!isGuid(tenant)) problems.push(`--entra-tenant must be a GUID, got '${tenant}'`);
  for (const issuer of config.issuers) {
    // Without --jwks-url the keys come from the issuer's discovery document, which must be as safe to fetch as keys.
    const problem = URL.canParse(issuer) ? (config.jwksUrl === null ? keyUrlProblem(issuer) : null) : `'${issuer}' is not a URL`;
    if (problem) problems.push(`--issuer ${problem}`);
  }
  if (!['auto', 'on', 'off'].includes(config.devIssuer)) problems.push(`--dev-issuer must be auto, on or off, got '${config.devIssuer}'`);
  if (!(config.keyRefreshCooldownMs >= 0)) problems.push('the key refresh cooldown must be zero or more');
  if (hasProductionIssuer(config)) {
    if (!config.audiences.length) problems.push('--entra-tenant and --issuer need --audience');
  } else if (config.audiences.length || config.jwksUrl !== null) {
    problems.push('--audience and --jwks-url need --entra-tenant or --issuer');
  }
  const keyProblem = config.jwksUrl === null ? null : keyUrlProblem(config.jwksUrl);
  if (keyProblem) problems.push(`--jwks-url ${keyProblem}`);
  if (config.consoleClientId !== null && (!hasProductionIssuer(config) || !/^[\x21-\x7e]{1,200}$/.test(config.consoleClientId))) {
    problems.push('--console-client-id needs --entra-tenant or --issuer, and is printable text without spaces');
  }
  if (config.consoleScope !== null && (config.consoleClientId === null || !/^[\x20-\x7e]{1,1000}$/.test(config.consoleScope))) {
    problems.push('--console-scope needs --console-client-id, and is printable text');
  }
  if (!(config.consoleTokenTtlSeconds >= 1)) problems.push("the console's dev token lifetime must be at least 1 s");
  if (config.devIssuer === 'off' && !hasProductionIssuer(config)) {
    problems.push('--dev-issuer off needs --entra-tenant or --issuer, or no token would ever be accepted');
  }
  // The dev issuer's key is in the database: on a reachable address, whoever copies the data
  // (or a token printed at start) is an admin of every tenant. Only an explicit `on` allows it.
  if (config.devIssuer === 'auto' && !hasProductionIssuer(config) && !isLoopbackHost(config.host)) {
    problems.push(
      `refusing to serve the dev issuer on --host ${config.host}, which is not a loopback address: ` +
        'configure --entra-tenant or --issuer, or pass --dev-issuer on to expose the dev issuer deliberately',
    );
  }
  return problems;
}

/** `--rate-limit`: requests per second per tenant and application, 'graph' (Graph's documented limits), or null/'off'. */
export function parseRateLimit(setting: string | null): number | 'graph' | null {
  if (setting === null || setting === 'off') return null;
  if (setting === 'graph') return 'graph';
  const n = Number(setting);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--rate-limit must be a positive number, 'graph' or 'off', got '${setting}'`);
  return n;
}

/** A per-second limit flag: a positive number, or 'off' (null). */
export function parsePerSecond(setting: string): number | null {
  return setting === 'off' ? null : Number(setting);
}

/** Parses durations such as 3600, 500ms, 90s, 30m, 1h, 2d into seconds (a bare number is seconds). */
export function parseDurationSeconds(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i.exec(text.trim());
  if (!match) throw new Error(`Invalid duration '${text}': use e.g. 3600, 500ms, 90s, 30m, 1h, 2d`);
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[(match[2] ?? 's').toLowerCase() as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}
