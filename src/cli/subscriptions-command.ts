import type { Command } from 'commander';
import { graphClientOf, graphClientOptions } from './cli-options.js';

type Json = Record<string, unknown>;

/** `7d`, `36h`, `90m`: the lifetime of a subscription from now. */
function lifetime(value: string): number {
  const match = /^(\d+)([mhd])$/.exec(value);
  if (!match) throw new Error(`--expires-in must be like 90m, 36h or 2d, got '${value}'`);
  return Number(match[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 'm' | 'h' | 'd'];
}

function expiration(options: { expiresIn?: string; expiration?: string }, fallback: string | null): string | null {
  if (options.expiration) return options.expiration;
  const value = options.expiresIn ?? fallback;
  return value === null ? null : new Date(Date.now() + lifetime(value)).toISOString();
}

/** `subscriptions …`: change-notification subscriptions through the API (/subscriptions), for scripts (--json) and people. */
export function addSubscriptionsCommand(program: Command): void {
  const group = program.command('subscriptions').description('change-notification subscriptions (Graph-style /subscriptions)');
  const common = graphClientOptions;
  const client = graphClientOf;
  const print = (options: { json: boolean }, value: unknown, human: () => string) =>
    process.stdout.write(`${options.json ? JSON.stringify(value, null, 2) : human()}\n`);
  const line = (s: Json) => [s.id, s.resource, s.changeType, s.notificationStatus, s.expirationDateTime, s.notificationUrl].join('\t');
  const path = (id: string) => `/beta/subscriptions/${encodeURIComponent(id)}`;

  common(group.command('create').description('subscribe a receiver (it must answer the validation handshake); prints the signing secret once'))
    .requiredOption('--resource <resource>', 'teamwork/devices/{id}/operations, teamwork/devices/operations or teamwork/softwareRollouts')
    .requiredOption('--notification-url <url>', 'the receiver (https, or http to a loopback address)')
    .option('--change-type <types>', 'created, updated or created,updated', 'created,updated')
    .option('--client-state <text>', 'sent back in every notification (at most 128 characters)')
    .option('--expires-in <duration>', 'lifetime, e.g. 90m, 36h, 2d (at most 4230 minutes)', '2d')
    .option('--expiration <iso>', 'expirationDateTime instead of --expires-in')
    .action(async (options) => {
      const created = (await client(options).json<Json>('POST', '/beta/subscriptions', {
        resource: options.resource,
        notificationUrl: options.notificationUrl,
        changeType: options.changeType,
        ...(options.clientState ? { clientState: options.clientState } : {}),
        expirationDateTime: expiration(options, '2d'),
      }))!;
      print(options, created, () => `${line(created)}\nsigning secret (shown only now): ${created.signingSecret}`);
    });

  common(group.command('list').description("the tenant's subscriptions"))
    .action(async (options) => {
      const page = await client(options).get<{ value: Json[] }>('/beta/subscriptions');
      print(options, page.value, () => page.value.map(line).join('\n'));
    });

  common(group.command('get <id>').description('one subscription with its delivery state'))
    .action(async (id: string, options) => {
      const subscription = await client(options).get(path(id));
      print(options, subscription, () =>
        `${line(subscription)}${subscription.lastDeliveryError ? `\nlast delivery error: ${subscription.lastDeliveryError}` : ''}`);
    });

  common(group.command('renew <id>').description('extend a subscription (and resume a suspended one), or move it to another receiver'))
    .option('--expires-in <duration>', 'new lifetime from now, e.g. 2d', undefined)
    .option('--expiration <iso>', 'new expirationDateTime')
    .option('--notification-url <url>', 'a new receiver (it must answer the validation handshake)')
    .action(async (id: string, options) => {
      const at = expiration(options, options.notificationUrl ? null : '2d');
      const renewed = (await client(options).json<Json>('PATCH', path(id), {
        ...(at ? { expirationDateTime: at } : {}),
        ...(options.notificationUrl ? { notificationUrl: options.notificationUrl } : {}),
      }))!;
      print(options, renewed, () => line(renewed));
    });

  common(group.command('delete <id>').description('delete a subscription; its pending notifications are dropped'))
    .action(async (id: string, options) => {
      await client(options).call('DELETE', path(id));
      print(options, { id, deleted: true }, () => `${id} deleted`);
    });
}
