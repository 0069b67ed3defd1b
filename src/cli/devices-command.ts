import { Option, type Command } from 'commander';
import { versionSchema, versionTextPattern } from '../domain/software-catalog.js';
import { softwareTypes } from '../domain/enums.js';
import { terminalStatuses, type ActionName, type OperationStatus } from '../domain/operation.js';
import { graphClientOf, graphClientOptions, integer, positive } from './cli-options.js';
import { runBulkAction } from './devices-bulk.js';
import type { GraphClient } from './graph-client.js';
import { textTable } from './text-table.js';

type Json = Record<string, unknown>;

/** `devices …`: a Graph client for scripts (--json) and people (tables, --wait progress). */
export function addDevicesCommand(program: Command): void {
  const group = program.command('devices').description('Graph client for /teamwork/devices');
  const common = graphClientOptions;
  const client = graphClientOf;
  const print = (options: { json: boolean }, value: unknown, human: () => string) =>
    process.stdout.write(`${options.json ? JSON.stringify(value, null, 2) : human()}\n`);

  common(group.command('list').description('list devices'))
    .option('--filter <odata>', 'OData $filter, e.g. "deviceType eq \'teamsRoom\'"')
    .option('--top <n>', 'page size (max 50)', integer('--top'), 50)
    .option('--all', 'follow @odata.nextLink to the end', false)
    .action(async (options) => {
      const graph = client(options);
      const query = new URLSearchParams({ $top: String(options.top) });
      if (options.filter) query.set('$filter', options.filter);
      let next: string | undefined = `/beta/teamwork/devices?${query}`;
      const devices: Json[] = [];
      while (next) {
        const page: Json = await graph.get(next);
        devices.push(...(page.value as Json[]));
        next = options.all ? (page['@odata.nextLink'] as string | undefined) : undefined;
      }
      print(options, devices, () => textTable(
        ['ID', 'TYPE', 'HEALTH', 'MODEL', 'USER'],
        devices.map((d) => [d.id, d.deviceType, d.healthStatus, (d.hardwareDetail as Json)?.model, (d.currentUser as Json | null)?.displayName]),
        Boolean(process.stdout.isTTY)));
    });

  common(group.command('get <deviceId>').description('show a device with its health'))
    .action(async (deviceId: string, options) => {
      const graph = client(options);
      const device = await graph.get(`/beta/teamwork/devices/${encodeURIComponent(deviceId)}`);
      const health = await graph.get(`/beta/teamwork/devices/${encodeURIComponent(deviceId)}/health`);
      print(options, { device, health }, () => {
        const updates = Object.entries((health.softwareUpdateHealth as Json) ?? {})
          .filter(([, v]) => v)
          .map(([k, v]) => `  ${k.replace('SoftwareUpdateStatus', '').padEnd(16)} ${(v as Json).currentVersion ?? '-'} → ${(v as Json).availableVersion ?? '-'} (${(v as Json).softwareFreshness})`);
        return [`${device.id}  ${device.deviceType}  ${device.healthStatus}`, ...updates].join('\n');
      });
    });

  common(group.command('operations <deviceId>').description("list a device's operations, newest first"))
    .action(async (deviceId: string, options) => {
      const page: Json = await client(options).get(`/beta/teamwork/devices/${encodeURIComponent(deviceId)}/operations`);
      const operations = page.value as Json[];
      print(options, operations, () => textTable(
        ['ID', 'TYPE', 'STATUS', 'CREATED', 'ERROR'],
        operations.map((o) => [o.id, o.operationType, o.status, o.createdDateTime, (o.error as Json | null)?.code]),
        Boolean(process.stdout.isTTY)));
    });

  const action = (name: string, graphAction: ActionName, describe: string, withSoftware = false) => {
    const command = common(group.command(`${name} [deviceId]`).description(`${describe}; with --filter instead of an id, every device the filter matches`))
      .option('--filter <odata>', 'every device this $filter matches, e.g. "deviceType eq \'teamsRoom\'" (20 requests per $batch)')
      .option('--wait', 'follow the operation(s) until they end', false)
      .option('--interval-ms <ms>', 'with --filter --wait: how often to read the open operations', positive('--interval-ms'), 1000);
    if (withSoftware) {
      command
        .addOption(new Option('--software-type <type>', 'software to update').choices([...softwareTypes]).makeOptionMandatory())
        .option('--software-version <version>', 'version (default: newest in the catalog)');
    }
    command.action(async (deviceId: string | undefined, options, self: Command) => {
      if (deviceId !== undefined && options.filter !== undefined) self.error('error: give a device id or --filter, not both');
      if (deviceId === undefined && options.filter === undefined) self.error('error: give a device id, or --filter to act on every device it matches');
      const graph = client(options);
      const body = withSoftware ? { softwareType: options.softwareType, ...(options.softwareVersion ? { softwareVersion: options.softwareVersion } : {}) } : undefined;
      if (options.filter !== undefined) {
        // Checked before anything is sent: a bad version would be refused by every device alike.
        if (options.softwareVersion && !versionTextPattern.test(options.softwareVersion)) {
          self.error(`error: 'softwareVersion' must be ${versionSchema.description}`);
        }
        process.exitCode = await runBulkAction(graph, { action: graphAction, body, filter: options.filter }, options);
        return;
      }
      const location = await graph.action(`/beta/teamwork/devices/${encodeURIComponent(deviceId!)}/${graphAction}`, body);
      const operation = options.wait ? await follow(graph, location, !options.json) : await graph.get(location);
      print(options, operation, () => `${operation.id} ${operation.status}${operation.error ? ` ${(operation.error as Json).code}: ${(operation.error as Json).message}` : ''}`);
      if (options.wait && operation.status !== 'successful') process.exitCode = 2;
    });
  };
  common(group.command('revoke-credential <deviceId>').description("revoke a device's credential; its hardware may then enroll again (the reset)"))
    .action(async (deviceId: string, options) => {
      await client(options).call('POST', `/beta/teamwork/devices/${encodeURIComponent(deviceId)}/revokeCredential`);
      print(options, { id: deviceId, credential: 'revoked' }, () => `${deviceId} credential revoked`);
    });

  common(group.command('remove <deviceId>').description('remove a device and its operations'))
    .action(async (deviceId: string, options) => {
      await client(options).call('DELETE', `/beta/teamwork/devices/${encodeURIComponent(deviceId)}`);
      print(options, { id: deviceId, removed: true }, () => `${deviceId} removed`);
    });

  action('update-software', 'updateSoftware', 'ask a device to install a software version', true);
  action('restart', 'restart', 'restart a device');
  action('run-diagnostics', 'runDiagnostics', 'collect diagnostics on a device');
}

/** Polls the operation until it is terminal, showing each change of status and progress on stderr. */
async function follow(graph: GraphClient, location: string, show: boolean): Promise<Json> {
  let last = '';
  for (;;) {
    const operation = await graph.get(location);
    const line = `${operation.status}`;
    if (show && line !== last) process.stderr.write(`${new Date().toISOString()}  ${line}\n`);
    last = line;
    if (terminalStatuses.includes(operation.status as OperationStatus)) return operation;
    await new Promise((r) => setTimeout(r, 500));
  }
}
