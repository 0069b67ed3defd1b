import { Command } from 'commander';
import { addAuditCommand } from './audit-command.js';
import { addCatalogCommand } from './catalog-command.js';
import { addDevicesCommand } from './devices-command.js';
import { addEnrollmentTokenCommand } from './enrollment-token-command.js';
import { addKeysCommand } from './keys-command.js';
import { addMigrateCommand } from './migrate-command.js';
import { addRolloutsCommand } from './rollouts-command.js';
import { addSeedCommand } from './seed-command.js';
import { addServeCommand } from './serve-command.js';
import { addSimulateCommand } from './simulate-command.js';
import { addSubscriptionsCommand } from './subscriptions-command.js';
import { addAgentCommand } from './agent-command.js';
import { addTokenCommand } from './token-command.js';
import { addWindowsCommand } from './windows-command.js';

/** The `teamwork-devices` command (DESIGN.md has the contract scripts rely on). */
export async function main(argv: string[]): Promise<void> {
  const program = new Command('teamwork-devices')
    .description('Microsoft Graph-compatible service for Microsoft Teams devices')
    .showHelpAfterError();
  addServeCommand(program);
  addTokenCommand(program);
  addKeysCommand(program);
  addSeedCommand(program);
  addEnrollmentTokenCommand(program);
  addCatalogCommand(program);
  addSimulateCommand(program);
  addAgentCommand(program);
  addDevicesCommand(program);
  addRolloutsCommand(program);
  addWindowsCommand(program);
  addSubscriptionsCommand(program);
  addMigrateCommand(program);
  addAuditCommand(program);
  try {
    await program.parseAsync(argv);
  } catch (error) {
    process.stderr.write(`teamwork-devices: ${(error as Error).message}\n`);
    process.exitCode = 1;
  }
}
