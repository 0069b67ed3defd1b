import type { Command } from 'commander';
import { redactDatabaseUrl } from '../store/open-store.js';
import { dbOption, openCommandStore } from './cli-options.js';

/** `migrate`: applies pending schema migrations (serve does this too, at start). */
export function addMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('apply pending database migrations and exit')
    .addOption(dbOption())
    .action(async (options) => {
      const store = await openCommandStore(options.db);
      await store.close();
      process.stdout.write(`migrations applied to ${redactDatabaseUrl(options.db)}\n`);
    });
}
