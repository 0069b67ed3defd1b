import type { Command } from 'commander';
import { operatorActor } from '../domain/audit.js';
import { createEnrollmentToken, revokeEnrollmentToken } from '../engine/device-administration.js';
import { parseDurationSeconds } from '../config.js';
import { dbOption, integer, tenantOption, withStore } from './cli-options.js';

/** `enrollment-token create|list|revoke`: the tokens devices present to enroll in a tenant. */
export function addEnrollmentTokenCommand(program: Command): void {
  const group = program.command('enrollment-token').description('tokens that let devices enroll in a tenant');
  group
    .command('create')
    .description('create an enrollment token and print it (shown once; only its hash is kept)')
    .addOption(dbOption())
    .addOption(tenantOption())
    .option('--ttl <duration>', 'how long devices may use it, e.g. 1h, 7d', '7d')
    .option('--uses <n>', 'how many devices it may enroll (default: no limit)', integer('--uses'))
    .option('--description <text>', 'what the token is for, shown by list')
    .action(async (options) => {
      if (options.uses !== undefined && options.uses < 1) throw new Error('--uses must be at least 1');
      await withStore(options.db, async (store) => {
        const { token } = await createEnrollmentToken(store, {
          tenantId: options.tenant,
          ttlSeconds: parseDurationSeconds(options.ttl),
          maxUses: options.uses ?? null,
          description: options.description ?? null,
        }, operatorActor);
        process.stdout.write(`${token}\n`);
      });
    });

  group
    .command('list')
    .description("list the tenant's enrollment tokens (never the tokens themselves)")
    .addOption(dbOption())
    .addOption(tenantOption())
    .option('--json', 'print JSON for scripts', false)
    .action(async (options) => {
      await withStore(options.db, async (store) => {
        const tokens = (await store.listEnrollmentTokens(options.tenant)).map(({ tokenHash: _hash, ...shown }) => shown);
        const now = new Date().toISOString();
        const state = (t: (typeof tokens)[number]) =>
          t.revokedDateTime ? 'revoked' : t.expiresDateTime <= now ? 'expired' : t.maxUses !== null && t.uses >= t.maxUses ? 'used up' : 'active';
        process.stdout.write(options.json
          ? `${JSON.stringify(tokens, null, 2)}\n`
          : tokens.map((t) => [t.id, state(t), `${t.uses}/${t.maxUses ?? '∞'}`, t.expiresDateTime, t.description ?? ''].join('\t')).join('\n') + (tokens.length ? '\n' : ''));
      });
    });

  group
    .command('revoke <id>')
    .description('revoke an enrollment token: no device can enroll with it any more')
    .addOption(dbOption())
    .addOption(tenantOption())
    .action(async (id: string, options) => {
      await withStore(options.db, async (store) => {
        await revokeEnrollmentToken(store, options.tenant, id, operatorActor);
        process.stdout.write(`${id} revoked\n`);
      });
    });
}
