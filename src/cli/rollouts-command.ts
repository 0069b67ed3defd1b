import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { softwareTypes } from '../domain/enums.js';
import { rolloutStatuses } from '../domain/rollout.js';
import { graphClientOf, graphClientOptions, integer, positive } from './cli-options.js';
import type { GraphClient } from './graph-client.js';
import { displayFor } from './progress-display.js';
import { finished, followRollout, stageLine, statusLine, waitExitCodes, type Rollout, type RolloutStage } from './rollout-progress.js';
import { collectStage, type StageOption } from './stage-spec.js';
import { textTable } from './text-table.js';

type Json = Record<string, unknown>;

const collection = '/beta/teamwork/softwareRollouts';
const rolloutPath = (id: string) => `${collection}/${encodeURIComponent(id)}`;
const verbs = [
  ['start', 'start a notStarted rollout'],
  ['pause', 'pause a running rollout: no new operations; those already asked run on'],
  ['resume', 'resume a paused rollout'],
  ['approve', 'let the stage that awaits approval begin'],
  ['cancel', 'cancel a rollout: operations not yet started become cancelled'],
] as const;

/** `rollouts …`: the /teamwork/softwareRollouts extension (issue 14) for scripts (--json) and people (tables, --wait bars). */
export function addRolloutsCommand(program: Command): void {
  const group = program.command('rollouts').description('staged software updates over many devices (/teamwork/softwareRollouts)');
  const print = (options: { json: boolean }, value: unknown, human: () => string) =>
    process.stdout.write(`${options.json ? JSON.stringify(value, null, 2) : human()}\n`);

  graphClientOptions(group.command('create').description('create a rollout (notStarted: `rollouts start ID` runs it)'))
    .option('--name <name>', 'display name')
    .addOption(new Option('--software-type <type>', 'software to update').choices([...softwareTypes]))
    .option('--version <version>', 'version to install (default: the newest the catalog offers each device)')
    .option('--filter <odata>', 'target: the devices this $filter matches, e.g. "deviceType eq \'teamsRoom\'"')
    .option('--device-id <id>', 'target: this device (repeat for more)', (id: string, ids: string[]) => [...ids, id], [])
    .option('--include-new-devices', 'devices that enroll later and match --filter join while it runs', false)
    .option('--stage <spec>', 'a stage, in order (repeat for more): comma-separated key=value of percent, count, concurrency, minSuccessPercent, maxFailurePercent, soakMinutes, and approval; e.g. "count=2,approval" (default: one stage of every target)', collectStage)
    .option('--max-attempts <n>', 'attempts per device, the first included (transient failures only)', integer('--max-attempts'))
    .option('--backoff-seconds <s>', 'wait before the second attempt, doubled for each later one', integer('--backoff-seconds'))
    .addOption(new Option('--body <file>', 'the create body as JSON, as the API takes it (- for stdin), instead of the options above')
      .conflicts(['name', 'softwareType', 'version', 'filter', 'deviceId', 'includeNewDevices', 'stage', 'maxAttempts', 'backoffSeconds']))
    .action(async (options, command: Command) => {
      const body = options.body ? readBody(options.body) : bodyOf(options, (message) => command.error(`error: ${message}`));
      const rollout = await graphClientOf(options).json<Rollout>('POST', collection, body);
      print(options, rollout, () => summary(rollout));
    });

  graphClientOptions(group.command('list').description('list rollouts, newest first'))
    .addOption(new Option('--status <status>', 'only rollouts in this status').choices([...rolloutStatuses]))
    .option('--top <n>', 'page size (max 50)', integer('--top'), 50)
    .option('--all', 'follow @odata.nextLink to the end', false)
    .action(async (options) => {
      const query = new URLSearchParams({ $top: String(options.top) });
      if (options.status) query.set('$filter', `status eq '${options.status}'`);
      const rollouts = await pages<Rollout>(graphClientOf(options), `${collection}?${query}`, options.all);
      print(options, rollouts, () => textTable(
        ['ID', 'NAME', 'STATUS', 'STAGE', 'DONE', 'FAILED', 'CREATED'],
        rollouts.map((r) => [r.id, r.displayName, r.status + (r.pausedReason ? ` (${r.pausedReason})` : ''), stageOf(r), `${finished(r.counts)}/${r.counts.total}`, r.counts.failed, r.createdDateTime]),
        Boolean(process.stdout.isTTY)));
    });

  graphClientOptions(group.command('get <rolloutId>').description('show a rollout; --wait follows it with a progress bar per stage'))
    .option('--wait', `follow it until it is completed (exit ${waitExitCodes.completed}), cancelled (exit ${waitExitCodes.cancelled}) or paused (exit ${waitExitCodes.paused})`, false)
    .option('--interval-ms <ms>', 'with --wait: how often to ask the server', positive('--interval-ms'), 1000)
    .action(async (rolloutId: string, options) => {
      const graph = graphClientOf(options);
      const rollout = options.wait
        ? await followRollout(graph, rolloutId, { intervalMs: options.intervalMs, display: displayFor(process.stderr, options.json), out: process.stderr })
        : await graph.get<Rollout>(rolloutPath(rolloutId));
      print(options, rollout, () => summary(rollout));
      if (options.wait) process.exitCode = waitExitCodes[rollout.status] ?? 1;
    });

  graphClientOptions(group.command('devices <rolloutId>').description("a rollout's target devices: stage, state, attempts, operation"))
    .option('--top <n>', 'page size (max 50)', integer('--top'), 50)
    .option('--all', 'follow @odata.nextLink to the end', false)
    .action(async (rolloutId: string, options) => {
      const devices = await pages<Json>(graphClientOf(options), `${rolloutPath(rolloutId)}/devices?$top=${options.top}`, options.all);
      print(options, devices, () => textTable(
        ['DEVICE', 'STAGE', 'STATE', 'ATTEMPTS', 'OPERATION', 'ERROR'],
        devices.map((d) => [d.deviceId, d.stage === null ? '-' : Number(d.stage) + 1, d.state, d.attempts, d.operationId ?? '-', (d.error as Json | null)?.code ?? d.skipReason ?? '']),
        Boolean(process.stdout.isTTY)));
    });

  for (const [verb, describe] of verbs) {
    graphClientOptions(group.command(`${verb} <rolloutId>`).description(describe))
      .action(async (rolloutId: string, options) => {
        const rollout = await graphClientOf(options).json<Rollout>('POST', `${rolloutPath(rolloutId)}/${verb}`);
        print(options, rollout, () => statusLine(rollout));
      });
  }
}

interface CreateOptions {
  name?: string;
  softwareType?: string;
  version?: string;
  filter?: string;
  deviceId: string[];
  includeNewDevices: boolean;
  stage?: StageOption[];
  maxAttempts?: number;
  backoffSeconds?: number;
}

/** The create body from the options; range checks are the server's (a 400 naming the field). */
function bodyOf(o: CreateOptions, usage: (message: string) => never): Json {
  if (!o.name) usage("required option '--name <name>' not specified (or give the whole body with --body FILE)");
  if (!o.softwareType) usage("required option '--software-type <type>' not specified");
  if (Boolean(o.filter) === (o.deviceId.length > 0)) usage('give the targets with either --filter or --device-id (repeatable), not both');
  const retry = { ...(o.maxAttempts === undefined ? {} : { maxAttempts: o.maxAttempts }), ...(o.backoffSeconds === undefined ? {} : { initialBackoffSeconds: o.backoffSeconds }) };
  return {
    displayName: o.name,
    softwareType: o.softwareType,
    ...(o.version ? { softwareVersion: o.version } : {}),
    target: o.filter ? { filter: o.filter } : { deviceIds: o.deviceId },
    includeNewDevices: o.includeNewDevices,
    ...(o.stage ? { stages: o.stage } : {}),
    ...(Object.keys(retry).length > 0 ? { retry } : {}),
  };
}

function readBody(file: string): unknown {
  const text = readFileSync(file === '-' ? 0 : file, 'utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`--body ${file}: not JSON (${(error as Error).message})`);
  }
}

/** A page, or with `all` every page, of a Graph collection. */
async function pages<T>(graph: GraphClient, first: string, all: boolean): Promise<T[]> {
  const items: T[] = [];
  let next: string | undefined = first;
  while (next) {
    const page: Json = await graph.get(next);
    items.push(...(page.value as T[]));
    next = all ? (page['@odata.nextLink'] as string | undefined) : undefined;
  }
  return items;
}

/** Where a rollout is, as `2/3`; `-` before it starts. */
function stageOf(r: Rollout): string {
  return r.status === 'notStarted' ? '-' : `${r.currentStage + 1}/${r.stages.length}`;
}

/** A stage's plan in the --stage syntax, so what is shown can be typed back. */
function planOf(s: RolloutStage): string {
  return [
    s.count !== null ? `count=${s.count}` : `percent=${s.percent}`,
    s.concurrency !== null ? `concurrency=${s.concurrency}` : null,
    s.minSuccessPercent > 0 ? `minSuccessPercent=${s.minSuccessPercent}` : null,
    s.maxFailurePercent !== null ? `maxFailurePercent=${s.maxFailurePercent}` : null,
    s.soakMinutes > 0 ? `soakMinutes=${s.soakMinutes}` : null,
    s.requiresApproval ? 'approval' : null,
  ].filter(Boolean).join(',');
}

/** A rollout for people: its line, what it installs where, and each stage's plan and progress. */
function summary(r: Rollout): string {
  const target = 'filter' in r.target ? `filter ${r.target.filter}${r.includeNewDevices ? ' (and devices that enroll later)' : ''}` : `${r.target.deviceIds.length} device(s)`;
  return [
    statusLine(r),
    `  software  ${r.softwareType} ${r.softwareVersion ?? '(the newest offered to each device)'}`,
    `  target    ${target}`,
    `  retry     ${r.retry.maxAttempts} attempt(s), backoff from ${r.retry.initialBackoffSeconds} s`,
    ...r.stages.map((s, i) => `  ${stageLine(r, i, false)}  [${planOf(s)}]`),
  ].join('\n');
}
