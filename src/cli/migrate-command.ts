import type { Command } from 'commander';
import { openStore, redactDatabaseUrl } from '../store/open-store.js';
import { dbOption } from './cli-options.js';

/** `migrate`: applies pending schema migrations (serve does this too, at start). */
export function addMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('apply pending database migrations and exit')
    .addOption(dbOption())
    .action(async (options) => {
      const store = await openStore(options.db);
      await store.close();
      process.stdout.write(`migrations applied to ${redactDatabaseUrl(options.db)}\n`);
    });
}
