import type { Command } from 'commander';
import { devSigningKey, signDevToken } from '../auth/dev-issuer.js';
import { maxTokenLifetimeSeconds } from '../auth/token-lifetime.js';
import { parseDurationSeconds } from '../config.js';
import { dbOption, openCommandStore, tenantOption } from './cli-options.js';

/** `token`: prints a dev bearer token and nothing else, so `$(teamwork-devices token)` works. */
export function addTokenCommand(program: Command): void {
  program
    .command('token')
    .description('print a bearer token from the local dev issuer')
    .addOption(dbOption())
    .addOption(tenantOption())
    .option('--scope <scope...>', 'permissions (scp for users, roles for apps)', ['TeamworkDevice.ReadWrite.All'])
    .option('--app', 'an application (app-only) token instead of a delegated user token', false)
    .option('--user <upn>', 'user principal name of a delegated token', 'admin@contoso.example')
    .option('--ttl <duration>', 'lifetime, e.g. 3600, 30m, 1h, at most 24h', '1h')
    .action(async (options) => {
      const ttlSeconds = parseDurationSeconds(options.ttl);
      if (ttlSeconds > maxTokenLifetimeSeconds) throw new Error(`--ttl must be at most ${maxTokenLifetimeSeconds / 3600}h: the server refuses longer-lived tokens`);
      const store = await openCommandStore(options.db);
      try {
        const key = await devSigningKey(store);
        const token = await signDevToken(key, {
          tenantId: options.tenant,
          scopes: options.scope,
          app: options.app,
          user: options.user,
          ttlSeconds,
        });
        process.stdout.write(`${token}\n`);
      } finally {
        await store.close();
      }
    });
}
