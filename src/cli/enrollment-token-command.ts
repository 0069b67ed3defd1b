import type { Command } from 'commander';
import { createEnrollmentToken } from '../http/agent/enrollment.js';
import { parseDurationSeconds } from '../config.js';
import { openStore } from '../store/open-store.js';
import { dbOption, tenantOption } from './cli-options.js';

/** `enrollment-token create`: prints a token devices present to enroll in the tenant. */
export function addEnrollmentTokenCommand(program: Command): void {
  const group = program.command('enrollment-token').description('tokens that let devices enroll in a tenant');
  group
    .command('create')
    .description('create an enrollment token and print it (shown once; only its hash is kept)')
    .addOption(dbOption())
    .addOption(tenantOption())
    .option('--ttl <duration>', 'how long devices may use it, e.g. 1h, 7d', '7d')
    .action(async (options) => {
      const store = await openStore(options.db);
      try {
        const { token } = await createEnrollmentToken(store, options.tenant, parseDurationSeconds(options.ttl));
        process.stdout.write(`${token}\n`);
      } finally {
        await store.close();
      }
    });
}
