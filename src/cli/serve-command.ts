import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { devSigningKey, signDevToken } from '../auth/dev-issuer.js';
import { devIssuerEnabled, parseDurationSeconds, parsePerSecond, parseTrustProxy, serveDefaults, validateServeConfig, type ServeConfig } from '../config.js';
import { operatorActor } from '../domain/audit.js';
import { createEnrollmentToken, revokeDeviceCredential } from '../engine/device-administration.js';
import { newestVersion } from '../domain/software-catalog.js';
import { seedDemoCatalog } from '../seed/demo-catalog.js';
import { seedDevices } from '../seed/seed-devices.js';
import { SimulatedFleet } from '../device/simulated-fleet.js';
import { startServer, type RunningServer } from '../server.js';
import { redactDatabaseUrl } from '../store/open-store.js';
import { artifactDirOption, dbOption, integer, tenantOption } from './cli-options.js';

/** `serve`: the API, on SQLite by default. */
export function addServeCommand(program: Command): void {
  const env = (flag: string, variable: string, description: string) =>
    new Option(flag, description).env(`TEAMWORK_DEVICES_${variable}`);
  program
    .command('serve')
    .description('run the Graph-compatible API')
    .addOption(env('--port <n>', 'PORT', 'port to listen on').argParser(integer('--port')).default(serveDefaults.port))
    .addOption(env('--host <address>', 'HOST', 'address to listen on').default(serveDefaults.host))
    .addOption(dbOption())
    .addOption(tenantOption())
    .addOption(env('--demo-devices <n>', 'DEMO_DEVICES', 'seed N demo devices when the tenant has none').argParser(integer('--demo-devices')).default(serveDefaults.demoDevices))
    .addOption(env('--tls', 'TLS', 'serve https with a self-signed certificate for localhost kept with the data'))
    .addOption(env('--tls-cert <file>', 'TLS_CERT', 'PEM certificate for https'))
    .addOption(env('--tls-key <file>', 'TLS_KEY', 'PEM private key for https'))
    .addOption(env('--entra-tenant <guid>', 'ENTRA_TENANT', 'accept v1.0 and v2.0 Entra ID tokens of this tenant (repeatable; comma-separated in the environment)').argParser(collect).default([]))
    .addOption(env('--issuer <url>', 'ISSUER', 'accept tokens of this OpenID provider (repeatable; comma-separated in the environment)').argParser(collect).default([]))
    .addOption(env('--audience <id>', 'AUDIENCE', "accepted token audience: the API's client id or App ID URI (repeatable)").argParser(collect).default([]))
    .addOption(env('--jwks-url <url>', 'JWKS_URL', "keys of the production issuers (default: Entra ID's common keys; OpenID discovery for --issuer)"))
    .addOption(env('--dev-issuer <auto|on|off>', 'DEV_ISSUER', 'the built-in dev issuer; auto: only without a production issuer, and only on a loopback --host').choices(['auto', 'on', 'off']).default(serveDefaults.devIssuer))
    .addOption(env('--log-level <level>', 'LOG_LEVEL', 'pino log level or silent; the Graph API\'s requests log at info, the agent protocol\'s at debug').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default(serveDefaults.logLevel))
    .addOption(env('--log-format <format>', 'LOG_FORMAT', 'json (one object a line) or pretty (readable lines); default: pretty on a terminal, else json').choices(['json', 'pretty']))
    .addOption(env('--metrics-auth <user:password>', 'METRICS_AUTH', 'basic auth a /metrics scrape must present'))
    .addOption(env('--metrics-port <n>', 'METRICS_PORT', 'serve /metrics on this port instead of the main one').argParser(integer('--metrics-port')))
    .addOption(env('--simulate <n>', 'SIMULATE', 'also run N simulated devices enrolled in --tenant').argParser(integer('--simulate')).default(serveDefaults.simulate))
    .addOption(env('--sim-update-ms <ms>', 'SIM_UPDATE_MS', 'how long a simulated update takes (±30 %)').argParser(integer('--sim-update-ms')).default(serveDefaults.simUpdateMs))
    .addOption(env('--sim-failure-rate <r>', 'SIM_FAILURE_RATE', 'share of simulated updates that fail, 0..1').argParser(Number).default(serveDefaults.simFailureRate))
    .addOption(env('--start-timeout <duration>', 'START_TIMEOUT', 'fail operations not started within this (deviceUnreachable)').default('24h'))
    .addOption(env('--run-timeout <duration>', 'RUN_TIMEOUT', 'fail operations running longer than this (timeout)').default('1h'))
    .addOption(env('--rate-limit <n|graph|off>', 'RATE_LIMIT', "throttle: N requests/s per tenant and app, or 'graph' for Graph's documented limits").default('off'))
    .addOption(env('--pool-size <n>', 'POOL_SIZE', 'PostgreSQL connections per process').argParser(integer('--pool-size')).default(serveDefaults.poolSize))
    .addOption(env('--device-quota <n>', 'DEVICE_QUOTA', 'devices enrollment tokens may bring into one tenant').argParser(integer('--device-quota')).default(serveDefaults.deviceQuota))
    .addOption(env('--enroll-rate-limit <n|off>', 'ENROLL_RATE_LIMIT', 'enrollments per second per source address (burst 20 s worth)').default(String(serveDefaults.enrollRateLimit)))
    .addOption(env('--agent-rate-limit <n|off>', 'AGENT_RATE_LIMIT', 'agent requests per second per device (burst 5 s worth)').default(String(serveDefaults.agentRateLimit)))
    .addOption(env('--heartbeat-timeout <duration>', 'HEARTBEAT_TIMEOUT', 'mark devices offline after this much silence').default('90s'))
    .addOption(env('--request-timeout <duration>', 'REQUEST_TIMEOUT', "a request's headers and body must arrive within this, or 408 and the connection is closed").default('30s'))
    .addOption(env('--max-connections <n>', 'MAX_CONNECTIONS', 'open connections per process; more are closed at once, with a warning').argParser(integer('--max-connections')).default(serveDefaults.maxConnections))
    .addOption(env('--public-url <url>', 'PUBLIC_URL', 'base URL clients reach the service at (behind a proxy); absolute links use it'))
    .addOption(env('--trust-proxy <addresses>', 'TRUST_PROXY', 'proxy addresses or CIDRs (comma-separated, repeatable) whose X-Forwarded-* headers are believed')
      .argParser((value: string, previous: string[] = []) => [...previous, value]))
    .addOption(artifactDirOption())
    .addOption(env('--console-client-id <id>', 'CONSOLE_CLIENT_ID', "the web console's OAuth client id at the first --issuer (or --entra-tenant): sign-in with the authorization code and PKCE"))
    .addOption(env('--console-scope <scope>', 'CONSOLE_SCOPE', 'the scope the console asks for (default: the first --audience + /.default)'))
    .action(async (options) => {
      const config = validateServeConfig({
        ...serveDefaults,
        port: options.port,
        host: options.host,
        db: options.db,
        tenant: options.tenant,
        demoDevices: options.demoDevices,
        tls: Boolean(options.tls),
        tlsCert: options.tlsCert ?? null,
        tlsKey: options.tlsKey ?? null,
        entraTenants: options.entraTenant,
        issuers: options.issuer,
        audiences: options.audience,
        jwksUrl: options.jwksUrl ?? null,
        devIssuer: options.devIssuer,
        logLevel: options.logLevel,
        logFormat: options.logFormat ?? null,
        metricsAuth: options.metricsAuth ?? null,
        metricsPort: options.metricsPort ?? null,
        simulate: options.simulate,
        simUpdateMs: options.simUpdateMs,
        simFailureRate: options.simFailureRate,
        startTimeoutMs: parseDurationSeconds(options.startTimeout) * 1000,
        runTimeoutMs: parseDurationSeconds(options.runTimeout) * 1000,
        heartbeatTimeoutMs: parseDurationSeconds(options.heartbeatTimeout) * 1000,
        rateLimit: options.rateLimit === 'off' ? null : options.rateLimit,
        poolSize: options.poolSize,
        deviceQuota: options.deviceQuota,
        enrollRateLimit: parsePerSecond(options.enrollRateLimit),
        agentRateLimit: parsePerSecond(options.agentRateLimit),
        requestTimeoutMs: parseDurationSeconds(options.requestTimeout) * 1000,
        maxConnections: options.maxConnections,
        publicUrl: options.publicUrl ?? null,
        trustProxy: parseTrustProxy([options.trustProxy ?? []].flat()),
        artifactDir: options.artifactDir ?? null,
        consoleClientId: options.consoleClientId ?? null,
        consoleScope: options.consoleScope ?? null,
      });
      const server = await startServer(config);
      // Stop handlers before anything is printed: a supervisor (or a test) that sends SIGTERM as
      // soon as it reads the welcome must get a clean shutdown, not the default kill.
      let fleet: SimulatedFleet | null = null;
      const stop = async () => {
        await fleet?.stop();
        await server.close();
        process.exit(0);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      // The server already answers requests: whether the tenant is empty is one index entry,
      // not a count, and the demo fleet goes in small batches.
      const empty = (await server.store.listDevices({ tenantId: config.tenant, filter: null, order: [], top: 1, after: null })).items.length === 0;
      if (config.demoDevices > 0 && empty) {
        await seedDevices(server.store, { tenantId: config.tenant, count: config.demoDevices, batchSize: 100 });
      }
      if (config.demoDevices > 0 || config.simulate > 0) await seedDemoCatalog(server.store, config.tenant);
      fleet = config.simulate > 0 ? await startFleet(server, config) : null;
      await printWelcome(server, config, fleet);
    });
}

/** A repeatable flag; the environment variable may hold several values separated by commas. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, ...value.split(',').map((v) => v.trim()).filter(Boolean)];
}

/** The in-process fleet: real agents speaking HTTP to this very server. */
async function startFleet(server: RunningServer, config: ServeConfig): Promise<SimulatedFleet> {
  const { token } = await createEnrollmentToken(server.store, {
    tenantId: config.tenant, ttlSeconds: 24 * 3600, maxUses: config.simulate, description: 'the simulated fleet of serve --simulate',
  }, operatorActor);
  // Beside the SQLite file; for PostgreSQL, one file per database under ./data.
  const stateFile = config.db.includes('://')
    ? resolve('./data', `simulated-fleet-${createHash('sha256').update(config.db.replace(/\/\/[^@/]*@/, '//')).digest('hex').slice(0, 12)}.json`)
    : join(dirname(resolve(config.db)), 'simulated-fleet.json');
  const fleet = new SimulatedFleet({
    url: server.url,
    enrollmentToken: token,
    devices: config.simulate,
    tenantId: config.tenant,
    updateMs: config.simUpdateMs,
    failureRate: config.simFailureRate,
    // The fleet keeps its credentials beside the data, so a restarted server's fleet re-enrolls as the same devices.
    stateFile,
  });
  if (!existsSync(stateFile)) await resetFleetHardware(server, config, fleet);
  await fleet.start();
  return fleet;
}

/**
 * The fleet's credentials were lost (a data directory from before they were kept, or the file
 * deleted): its devices, which are this server's own, are reset so their hardware may enroll again.
 */
async function resetFleetHardware(server: RunningServer, config: ServeConfig, fleet: SimulatedFleet): Promise<void> {
  for (const device of fleet.devices) {
    const existing = await server.store.findDeviceByHardware(config.tenant, device.hardwareDetail);
    if (existing) await revokeDeviceCredential(server.store, config.tenant, existing.id, operatorActor);
  }
}

async function printWelcome(server: RunningServer, config: ServeConfig, fleet: SimulatedFleet | null): Promise<void> {
  const lines = [
    `Console: ${server.url}/`,
    `teamwork-devices listening on ${server.url}  (db: ${redactDatabaseUrl(config.db)}, tenant: ${config.tenant})`,
  ];
  if (config.entraTenants.length) lines.push(`Entra ID tenants: ${config.entraTenants.join(', ')}`);
  if (config.issuers.length) lines.push(`OpenID issuers: ${config.issuers.join(', ')}`);
  if (devIssuerEnabled(config)) {
    const token = await signDevToken(await devSigningKey(server.store), { tenantId: config.tenant, ttlSeconds: 8 * 3600 });
    const simulated = fleet?.deviceIds()[0];
    const device = simulated
      ? await server.store.getDevice(config.tenant, simulated)
      : (await server.store.listDevices({ tenantId: config.tenant, filter: null, order: [], top: 1, after: null })).items[0];
    const deviceId = device?.id ?? '{deviceId}';
    // A version the catalog offers this very device, or the curl would only show a 404.
    const offered = device
      ? newestVersion(await server.store.listCatalog(config.tenant), 'teamsClient', device.deviceType, device.hardwareDetail.model)
      : null;
    const version = offered ?? '{softwareVersion}';
    const insecure = server.url.startsWith('https') ? ' -k' : '';
    lines.push(
      '',
      'A dev token (8 hours, TeamworkDevice.ReadWrite.All):',
      `export TOKEN=${token}`,
      '',
      ...(offered ? [] : ['Offer a version first (updateSoftware refuses any version the catalog does not offer the device):',
        `npx teamwork-devices catalog add --db ${redactDatabaseUrl(config.db)} --tenant ${config.tenant} --software-type teamsClient --version {softwareVersion}`, '']),
      'Update a device:',
      `curl -i${insecure} -X POST ${server.url}/beta/teamwork/devices/${deviceId}/updateSoftware \\`,
      `  -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\`,
      `  -d '{"softwareType":"teamsClient","softwareVersion":"${version}"}'`,
      '',
      'Then GET the Location it answers with (prefix it with the address above), or list the operations:',
      `curl -s${insecure} -H "Authorization: Bearer $TOKEN" ${server.url}/beta/teamwork/devices/${deviceId}/operations`,
    );
  }
  if (fleet) lines.push('', `${config.simulate} simulated devices are enrolled; updates take about ${config.simUpdateMs} ms.`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
