import { askDevices, countDevices, type BulkAction, type BulkResult, type DeviceResult } from './bulk-actions.js';
import type { GraphClient } from './graph-client.js';
import { ended, followOperations, type FollowedOperation } from './operation-waits.js';
import { bar, displayFor, progressWriter } from './progress-display.js';

/**
 * Exit codes of an action over the devices a `--filter` matches (README, Command line), added
 * together when both happen (6): scripts test the bit they care about.
 */
export const bulkExitCodes = { operationNotSuccessful: 2, deviceNotAccepted: 4 } as const;

/** Counts of the requests' results, and of the failures by error code. */
interface Tally extends Record<BulkResult, number> {
  asked: number;
  failedByCode: Record<string, number>;
}

/** Counts of the followed operations by status, and of the failed ones by error code. */
interface WaitTally {
  followed: number;
  successful: number;
  failed: number;
  cancelled: number;
  running: number;
  failedByCode: Record<string, number>;
}

const resultLabels: [BulkResult, string][] = [
  ['accepted', 'accepted'],
  ['alreadyPending', 'already pending'],
  ['notOffered', 'not offered'],
  ['failed', 'failed'],
];

/** Devices of each kind not accepted that the summary names; --json names them all. */
const examplesShown = 5;

/**
 * `devices update-software|restart|run-diagnostics --filter F`: asks every matching device,
 * then with `wait` follows the accepted operations to their end, showing progress on stderr
 * (bars on a terminal, plain lines piped, nothing with --json) and a summary on stdout.
 * Returns the exit code. A run stopped by an error (the server gone, the token refused)
 * writes what it had done to stderr before the error is reported.
 */
export async function runBulkAction(
  graph: GraphClient,
  action: BulkAction,
  options: { wait: boolean; intervalMs: number; json: boolean },
): Promise<number> {
  const matched = await countDevices(graph, action.filter);
  const tally: Tally = { asked: 0, accepted: 0, alreadyPending: 0, notOffered: 0, failed: 0, failedByCode: {} };
  const results: DeviceResult[] = [];
  let followed: FollowedOperation[] | null = null;

  const display = displayFor(process.stderr, options.json);
  const write = progressWriter(display, process.stderr);
  const frame = () => [askLine(action, tally, matched, display === 'terminal'), ...(followed ? [waitLine(waitTally(followed), display === 'terminal')] : [])];
  // Drawn on a clock, not on every answer: a fleet's answers would be thousands of frames.
  const timer = setInterval(() => write(frame()), display === 'terminal' ? 100 : 1000);
  try {
    await askDevices(graph, action, (result) => {
      tally.asked += 1;
      tally[result.result] += 1;
      if (result.result === 'failed') count(tally.failedByCode, result.error!.code);
      results.push(result);
    });
    if (options.wait) {
      write(frame());
      followed = results.filter((r) => r.result === 'accepted').map((r) => ({ deviceId: r.id, location: r.operation!, status: 'queued', error: null }));
      await followOperations(graph, followed, { intervalMs: options.intervalMs, onPass: () => {} });
    }
  } catch (error) {
    write(frame());
    if (!options.json) process.stderr.write(`stopped by an error after ${tally.asked} device(s):\n${summary(action, tally, results, followed)}\n`);
    throw error;
  } finally {
    clearInterval(timer);
  }
  write(frame());

  const waited = followed ? waitTally(followed) : null;
  if (options.json) process.stdout.write(`${JSON.stringify(report(action, matched, tally, results, followed), null, 2)}\n`);
  else process.stdout.write(`${summary(action, tally, results, followed)}\n`);
  const notAccepted = tally.asked - tally.accepted > 0 ? bulkExitCodes.deviceNotAccepted : 0;
  const notSuccessful = waited && waited.successful < waited.followed ? bulkExitCodes.operationNotSuccessful : 0;
  return notAccepted + notSuccessful;
}

function count(byCode: Record<string, number>, code: string): void {
  byCode[code] = (byCode[code] ?? 0) + 1;
}

function waitTally(operations: FollowedOperation[]): WaitTally {
  const tally: WaitTally = { followed: operations.length, successful: 0, failed: 0, cancelled: 0, running: 0, failedByCode: {} };
  for (const o of operations) {
    if (!ended(o.status)) tally.running += 1;
    else tally[o.status as 'successful' | 'failed' | 'cancelled'] += 1;
    if (o.status === 'failed') count(tally.failedByCode, o.error?.code ?? 'unknown');
  }
  return tally;
}

/** `updateSoftware ████░░░░ 40/120 asked  accepted 35 · already pending 3 · not offered 1 · failed 1` */
function askLine(action: BulkAction, tally: Tally, matched: number | null, withBar: boolean): string {
  const total = Math.max(matched ?? 0, tally.asked);
  const parts: string[] = [action.action];
  if (withBar) parts.push(bar(tally.asked, total));
  parts.push(`${tally.asked}/${matched === null ? '?' : total} asked`);
  return `${parts.join(' ')}  ${resultLabels.map(([key, label]) => `${label} ${tally[key]}`).join(' · ')}`;
}

/** `operations ██░░░░ 20/35 ended  ✓18 ✗1 ⊘1 · 15 running` */
function waitLine(w: WaitTally, withBar: boolean): string {
  const done = w.followed - w.running;
  const parts = ['operations'];
  if (withBar) parts.push(bar(done, w.followed));
  parts.push(`${done}/${w.followed} ended`);
  return `${parts.join(' ')}  ✓${w.successful} ✗${w.failed} ⊘${w.cancelled} · ${w.running} running`;
}

const byCode = (codes: Record<string, number>) => {
  const entries = Object.entries(codes).sort(([, a], [, b]) => b - a);
  return entries.length === 0 ? '' : `  (${entries.map(([code, n]) => `${code} ${n}`).join(', ')})`;
};

/** The summary for people: each kind of result counted, a few of the devices not accepted named with why. */
function summary(action: BulkAction, tally: Tally, results: DeviceResult[], followed: FollowedOperation[] | null): string {
  const lines = [`${action.action} on the devices matching ${action.filter}: ${tally.asked} asked`];
  for (const [key, label] of resultLabels) {
    lines.push(`  ${label.padEnd(16)} ${String(tally[key]).padStart(6)}${key === 'failed' ? byCode(tally.failedByCode) : ''}`);
    if (key === 'notOffered' || key === 'failed') {
      const these = results.filter((r) => r.result === key);
      for (const r of these.slice(0, examplesShown)) lines.push(`    ${r.id}  ${r.error!.code}: ${r.error!.message}`);
      if (these.length > examplesShown) lines.push(`    … and ${these.length - examplesShown} more (--json lists every device)`);
    }
  }
  if (followed) {
    const w = waitTally(followed);
    lines.push(`operations followed to their end: ${w.followed - w.running} of ${w.followed}`);
    lines.push(`  ${'successful'.padEnd(16)} ${String(w.successful).padStart(6)}`);
    lines.push(`  ${'failed'.padEnd(16)} ${String(w.failed).padStart(6)}${byCode(w.failedByCode)}`);
    lines.push(`  ${'cancelled'.padEnd(16)} ${String(w.cancelled).padStart(6)}`);
  }
  return lines.join('\n');
}

/** The summary for scripts: the counts, and every device's result (with its operation's end, after --wait). */
function report(action: BulkAction, matched: number | null, tally: Tally, results: DeviceResult[], followed: FollowedOperation[] | null) {
  const operations = new Map((followed ?? []).map((o) => [o.deviceId, o]));
  const w = followed ? waitTally(followed) : null;
  return {
    action: action.action,
    filter: action.filter,
    body: action.body ?? null,
    matched,
    ...tally,
    ...(w ? { operations: { followed: w.followed, successful: w.successful, failed: w.failed, cancelled: w.cancelled, failedByCode: w.failedByCode } } : {}),
    devices: results.map((r) => {
      const operation = operations.get(r.id);
      return operation ? { ...r, operationStatus: operation.status, operationError: operation.error } : r;
    }),
  };
}
