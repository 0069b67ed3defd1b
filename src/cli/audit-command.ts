import type { Command } from 'commander';
import { isGuid } from '../config.js';
import { dbOption, integer, withStore } from './cli-options.js';

/** `audit list`: the audit log, newest first, straight from the database. */
export function addAuditCommand(program: Command): void {
  const group = program.command('audit').description('the audit log: enrollments, credentials, operations, failed sign-ins');
  group
    .command('list')
    .description('print audit events, newest first')
    .addOption(dbOption())
    .option('--tenant <guid>', "one tenant's events (default: every tenant's, and those of no known tenant)")
    .option('--top <n>', 'how many events', integer('--top'), 100)
    .option('--json', 'print JSON for scripts', false)
    .action(async (options) => {
      if (options.tenant !== undefined && !isGuid(options.tenant)) throw new Error('--tenant must be a GUID');
      await withStore(options.db, async (store) => {
        const page = await store.listAudit({ tenantId: options.tenant ?? null, top: options.top, beforeSeq: null });
        if (options.json) {
          process.stdout.write(`${JSON.stringify(page.items, null, 2)}\n`);
          return;
        }
        for (const e of page.items) {
          const actor = [e.initiatedBy.type, e.initiatedBy.displayName ?? e.initiatedBy.id, e.initiatedBy.ipAddress].filter(Boolean).join(' ');
          const target = e.target ? `${e.target.type} ${e.target.id}` : '';
          const count = e.occurrences > 1 ? ` ×${e.occurrences}` : '';
          process.stdout.write(`${[e.activityDateTime, e.tenantId ?? '-', e.activity + count, e.result + (e.resultReason ? ` (${e.resultReason})` : ''), actor, target].join('\t')}\n`);
        }
      });
    });
}
