import { Option, type Command } from 'commander';
import { devSigningKey, signDevToken } from '../auth/dev-issuer.js';
import { serveDefaults, validateServeConfig, type ServeConfig } from '../config.js';
import { seedDevices } from '../seed/seed-devices.js';
import { startServer, type RunningServer } from '../server.js';
import { dbOption, integer, tenantOption } from './cli-options.js';

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
    .addOption(env('--demo-devices <n>', 'DEMO_DEVICES', 'seed N demo devices when the tenant has none').argParser(integer('--demo-devices')).default(0))
    .addOption(env('--tls', 'TLS', 'serve https with a self-signed certificate for localhost kept with the data'))
    .addOption(env('--tls-cert <file>', 'TLS_CERT', 'PEM certificate for https'))
    .addOption(env('--tls-key <file>', 'TLS_KEY', 'PEM private key for https'))
    .addOption(env('--issuer <url>', 'ISSUER', 'token issuer of the production identity provider'))
    .addOption(env('--audience <uri>', 'AUDIENCE', 'token audience expected in production'))
    .addOption(env('--jwks-url <url>', 'JWKS_URL', 'JWKS URL of the production identity provider'))
    .addOption(env('--log-level <level>', 'LOG_LEVEL', 'pino log level or silent').default(serveDefaults.logLevel))
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
        issuer: options.issuer ?? null,
        audience: options.audience ?? null,
        jwksUrl: options.jwksUrl ?? null,
        logLevel: options.logLevel,
      });
      const server = await startServer(config);
      if (config.demoDevices > 0 && (await server.store.countDevices(config.tenant)) === 0) {
        await seedDevices(server.store, { tenantId: config.tenant, count: config.demoDevices });
      }
      await printWelcome(server, config);
      const stop = async () => {
        await server.close();
        process.exit(0);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}

async function printWelcome(server: RunningServer, config: ServeConfig): Promise<void> {
  const lines = [`teamwork-devices listening on ${server.url}  (db: ${config.db}, tenant: ${config.tenant})`];
  if (!config.issuer) {
    const token = await signDevToken(await devSigningKey(server.store), { tenantId: config.tenant, ttlSeconds: 8 * 3600 });
    const page = await server.store.listDevices({ tenantId: config.tenant, filter: null, top: 1, afterId: null });
    const deviceId = page.items[0]?.id ?? '{deviceId}';
    const insecure = server.url.startsWith('https') ? ' -k' : '';
    lines.push(
      '',
      'A dev token (8 hours, TeamworkDevice.ReadWrite.All):',
      `export TOKEN=${token}`,
      '',
      'Update a device:',
      `curl -i${insecure} -X POST ${server.url}/beta/teamwork/devices/${deviceId}/updateSoftware \\`,
      `  -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\`,
      `  -d '{"softwareType":"teamsClient","softwareVersion":"1.0.96.22"}'`,
      '',
      'Then GET the Location it answers with:',
      `curl -s${insecure} -H "Authorization: Bearer $TOKEN" ${server.url}/beta/teamwork/devices/${deviceId}/operations`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
