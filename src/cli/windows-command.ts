import type { Command } from 'commander';
import { graphClientOf, graphClientOptions, integer } from './cli-options.js';

type Json = Record<string, unknown>;

const path = '/beta/teamwork/maintenanceWindows';

/** `windows …`: maintenance windows through the API (an extension beside Graph), for scripts (--json) and people. */
export function addWindowsCommand(program: Command): void {
  const group = program.command('windows').description('maintenance windows: when devices may be given work');
  const common = graphClientOptions;
  const client = graphClientOf;
  const print = (options: { json: boolean }, value: unknown, human: () => string) =>
    process.stdout.write(`${options.json ? JSON.stringify(value, null, 2) : human()}\n`);
  const one = (id: string) => `${path}/${encodeURIComponent(id)}`;
  const shaped = (options: { name?: string; filter?: string; deviceId?: string[]; days?: string; start?: string; duration?: number; timeZone?: string }) => ({
    name: options.name,
    target: options.filter !== undefined ? { filter: options.filter } : options.deviceId ? { deviceIds: options.deviceId } : undefined,
    schedule: {
      ...(options.days !== undefined ? { daysOfWeek: options.days.split(',').map((d) => d.trim()).filter(Boolean) } : {}),
      ...(options.start !== undefined ? { startTime: options.start } : {}),
      ...(options.duration !== undefined ? { durationMinutes: options.duration } : {}),
      ...(options.timeZone !== undefined ? { timeZone: options.timeZone } : {}),
    },
  });
  const withWindowOptions = (command: Command) =>
    command
      .option('--name <text>', 'display name')
      .option('--filter <odata>', 'the devices it covers, as a devices $filter, e.g. "deviceType eq \'teamsRoom\'"')
      .option('--device-id <id...>', 'the devices it covers, by id (up to 1000)')
      .option('--days <list>', 'days of the week, e.g. monday,tuesday')
      .option('--start <HH:MM>', 'start time, wall clock in the time zone')
      .option('--duration <minutes>', 'length, 30 to 1440 minutes', integer('--duration'))
      .option('--time-zone <iana>', "IANA time zone, e.g. Europe/Berlin (a device's own time zone replaces it)");

  withWindowOptions(common(group.command('create').description('create a maintenance window')))
    .action(async (options) => {
      const { name, target, schedule } = shaped(options);
      // The server checks every field and names what is wrong; nothing is defaulted here.
      const window = await client(options).json('POST', path, { displayName: name, target, schedule });
      print(options, window, () => line(window));
    });

  common(group.command('list').description('list maintenance windows, newest first'))
    .option('--all', 'follow @odata.nextLink to the end', false)
    .action(async (options) => {
      const graph = client(options);
      let next: string | undefined = `${path}?$top=50`;
      const windows: Json[] = [];
      while (next) {
        const page: Json = await graph.get(next);
        windows.push(...(page.value as Json[]));
        next = options.all ? (page['@odata.nextLink'] as string | undefined) : undefined;
      }
      print(options, windows, () => windows.map(line).join('\n'));
    });

  common(group.command('get <windowId>').description('show a maintenance window'))
    .action(async (windowId: string, options) => {
      const window = await client(options).get(one(windowId));
      print(options, window, () => line(window));
    });

  withWindowOptions(common(group.command('update <windowId>').description('change a maintenance window (only what is given)')))
    .action(async (windowId: string, options) => {
      const graph = client(options);
      const { name, target, schedule } = shaped(options);
      const body: Json = {};
      if (name !== undefined) body.displayName = name;
      if (target) body.target = target;
      if (Object.keys(schedule).length > 0) {
        // The API replaces a schedule whole: the fields not given are the window's current ones.
        const current = await graph.get(one(windowId));
        body.schedule = { ...(current.schedule as Json), ...schedule };
      }
      const window = await graph.json('PATCH', one(windowId), body);
      print(options, window, () => line(window));
    });

  common(group.command('delete <windowId>').description('delete a maintenance window'))
    .action(async (windowId: string, options) => {
      await client(options).call('DELETE', one(windowId));
      print(options, { id: windowId, deleted: true }, () => `${windowId} deleted`);
    });
}

/** One window on one line: id, name, schedule, target. */
function line(window: Json): string {
  const s = window.schedule as Json;
  const target = window.target as Json;
  const covers = 'filter' in target ? `filter: ${target.filter}` : `${(target.deviceIds as string[]).length} devices`;
  return [window.id, window.displayName, `${(s.daysOfWeek as string[]).join(',')} ${s.startTime} for ${s.durationMinutes} min (${s.timeZone})`, covers].join('\t');
}
