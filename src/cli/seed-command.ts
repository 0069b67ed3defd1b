import type { Command } from 'commander';
import { seedDevices } from '../seed/seed-devices.js';
import { dbOption, integer, openCommandStore, tenantOption } from './cli-options.js';

/** `seed`: registers N generated devices without agents (demo data, benchmarks). */
export function addSeedCommand(program: Command): void {
  program
    .command('seed')
    .description('register N realistic demo devices in a tenant')
    .addOption(dbOption())
    .addOption(tenantOption())
    .requiredOption('--devices <n>', 'how many devices', integer('--devices'))
    .option('--random-seed <n>', 'seed of the generator (same seed, same devices)', integer('--random-seed'), 1)
    .action(async (options) => {
      const store = await openCommandStore(options.db);
      try {
        const started = process.hrtime.bigint();
        const total = await seedDevices(store, { tenantId: options.tenant, count: options.devices, seed: options.randomSeed });
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        process.stdout.write(
          `seeded ${options.devices} devices in tenant ${options.tenant} in ${seconds.toFixed(2)} s ` +
            `(${Math.round(options.devices / seconds)} devices/s); the tenant now has ${total}\n`,
        );
      } finally {
        await store.close();
      }
    });
}
