import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchConfig, StoreName } from './bench-config.js';
import { fmt, goalText, median, progress, ratioOf, type BenchOutcome, type ReportTable } from './bench-report.js';
import { storeLabel, type BenchWorkspace } from './bench-workspace.js';
import { startTarget } from './target-process.js';
import { ensureWrk, runWrk, type WrkResult } from './wrk.js';

/** Requests in one batch: Graph's maximum. */
const batchSize = 20;
/** Distinct batches (each of other devices) wrk cycles through, so no round reads one hot set. */
const batchCount = 10;
const warmupSeconds = 1;

/** One wrk round and the server's CPU seconds it took (null where /proc is missing). */
interface Round extends WrkResult {
  cpuSeconds: number | null;
}

interface StoreRun {
  store: StoreName;
  devices: number;
  single: Round[];
  batch: Round[];
}

/**
 * What JSON batching saves: device reads per second as 20-request batches (`POST /beta/$batch`
 * of 20 `GET /teamwork/devices/{id}`) against the same reads sent as separate requests, from
 * the real server over the small list database, with wrk and the same connections. Rounds
 * alternate (separate, batch, separate, batch, …) so whatever else the machine does falls on
 * both; each figure is the median round. Both kinds read the same 200 devices in the same order.
 */
export async function batchBench(config: BenchConfig, workspace: BenchWorkspace): Promise<BenchOutcome> {
  ensureWrk();
  const runs: StoreRun[] = [];
  for (const store of config.stores) {
    const label = storeLabel[store];
    progress(`batch: ${label}: seeding ${fmt.int(config.listSmall)} devices (unless an earlier benchmark did)`);
    const { file } = await workspace.seed('small', config.listSmall, store);
    const keys = await workspace.deviceKeys('small', store);
    const step = Math.max(1, Math.floor(keys.length / (batchSize * batchCount)));
    const ids = Array.from({ length: batchSize * batchCount }, (_, i) => keys[(i * step) % keys.length].id);
    const batches = Array.from({ length: batchCount }, (_, b) => ({
      requests: ids.slice(b * batchSize, (b + 1) * batchSize).map((id, i) => ({ id: String(i + 1), method: 'GET', url: `/teamwork/devices/${id}` })),
    }));
    const singleScript = join(workspace.dir, `batch-single-${store}.lua`);
    const batchScript = join(workspace.dir, `batch-batch-${store}.lua`);
    writeFileSync(singleScript, luaRequests(ids.map((id) => ({ method: 'GET', path: `/beta/teamwork/devices/${id}` }))));
    writeFileSync(batchScript, luaRequests(batches.map((body) => ({ method: 'POST', path: '/beta/$batch', body: JSON.stringify(body) }))));
    const headers = { authorization: `Bearer ${await workspace.token('small', store)}`, 'content-type': 'application/json' };

    const target = await startTarget('real', file.db);
    try {
      await checkBatches(target.url, headers, batches);
      const wrk = async (script: string, seconds: number): Promise<Round> => {
        const cpuBefore = target.cpuSeconds();
        const result = await runWrk({ url: target.url, headers, connections: config.listConnections, seconds, script });
        const cpuAfter = target.cpuSeconds();
        return { ...result, cpuSeconds: cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore };
      };
      await wrk(singleScript, warmupSeconds);
      await wrk(batchScript, warmupSeconds);
      const run: StoreRun = { store, devices: file.devices, single: [], batch: [] };
      for (let round = 1; round <= config.batchRounds; round++) {
        progress(`batch: ${label}: round ${round} of ${config.batchRounds}: separate reads, then batches`);
        run.single.push(await wrk(singleScript, config.batchSeconds));
        run.batch.push(await wrk(batchScript, config.batchSeconds));
      }
      await checkBatches(target.url, headers, batches);
      runs.push(run);
    } finally {
      await target.stop();
    }
  }
  return report(runs, config);
}

/** A wrk script that sends these requests in turn, on every connection. Long strings keep JSON bodies verbatim. */
function luaRequests(requests: { method: string; path: string; body?: string }[]): string {
  const literal = (text: string) => {
    if (text.includes(']==]')) throw new Error('a request cannot be written as a Lua long string');
    return `[==[${text}]==]`;
  };
  const entries = requests.map((r) => `  { ${literal(r.method)}, ${literal(r.path)}, ${r.body === undefined ? 'nil' : literal(r.body)} },`);
  return [
    'local requests = {',
    ...entries,
    '}',
    'local i = 0',
    'request = function()',
    '  i = i % #requests + 1',
    '  local r = requests[i]',
    '  return wrk.format(r[1], r[2], nil, r[3])',
    'end',
    '',
  ].join('\n');
}

/** wrk sees only the batch's status: every read inside must be a 200 too, before and after the rounds. */
async function checkBatches(baseUrl: string, headers: Record<string, string>, batches: { requests: unknown[] }[]): Promise<void> {
  for (const body of batches) {
    const response = await fetch(`${baseUrl}/beta/$batch`, { method: 'POST', headers, body: JSON.stringify(body) });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`POST /beta/$batch answered ${response.status}: ${text.slice(0, 300)}`);
    const statuses = (JSON.parse(text) as { responses: { status: number }[] }).responses.map((r) => r.status);
    if (statuses.length !== batchSize || statuses.some((s) => s !== 200)) throw new Error(`a batch's reads answered ${statuses.join(' ')}`);
  }
}

function report(runs: StoreRun[], config: BenchConfig): BenchOutcome {
  const tables: ReportTable[] = [];
  const data: Record<string, unknown> = {};
  for (const run of runs) {
    const singleReads = run.single.map((r) => r.requestsPerSecond);
    const batchReads = run.batch.map((r) => r.requestsPerSecond * batchSize);
    const roundRatios = batchReads.map((reads, i) => ratioOf(reads, singleReads[i]));
    const ratio = ratioOf(median(batchReads), median(singleReads));
    const failures = [...run.single, ...run.batch].reduce((sum, r) => sum + r.failures, 0);
    // The server's CPU per device read: what a read costs it, whatever else the machine runs.
    const cpuPerRead = (rounds: Round[], readsPerRequest: number) =>
      rounds.every((r) => r.cpuSeconds !== null) ? median(rounds.map((r) => (r.cpuSeconds! * 1e6) / (r.requests * readsPerRequest))) : Number.NaN;
    const singleCpu = cpuPerRead(run.single, 1);
    const batchCpu = cpuPerRead(run.batch, batchSize);
    tables.push({
      title: `batch (${storeLabel[run.store]}): device reads as 20-request $batch vs as separate GETs`,
      columns: { measured: `in batches of ${batchSize}`, baseline: 'separate GETs', ratio: 'batch/separate' },
      rows: [
        { figure: 'device reads/s', measured: fmt.rps(median(batchReads)), baseline: fmt.rps(median(singleReads)), ratio: fmt.ratio(ratio), goal: goalText(ratio > 1, '> 1') },
        { figure: 'server CPU per device read (µs)', measured: fmt.micros(batchCpu), baseline: fmt.micros(singleCpu), ratio: fmt.ratio(ratioOf(batchCpu, singleCpu)), goal: goalText(batchCpu < singleCpu, '< 1') },
        { figure: 'HTTP requests/s', measured: fmt.rps(median(run.batch.map((r) => r.requestsPerSecond))), baseline: fmt.rps(median(run.single.map((r) => r.requestsPerSecond))), ratio: '' },
        { figure: 'p50 per HTTP request (ms)', measured: fmt.ms(median(run.batch.map((r) => r.p50))), baseline: fmt.ms(median(run.single.map((r) => r.p50))), ratio: '' },
        { figure: 'p99 per HTTP request (ms)', measured: fmt.ms(median(run.batch.map((r) => r.p99))), baseline: fmt.ms(median(run.single.map((r) => r.p99))), ratio: '' },
      ],
      notes: [
        `GET /beta/teamwork/devices/{id} vs POST /beta/$batch of 20 such GETs, over ${fmt.int(run.devices)} devices; the same ${batchSize * batchCount} devices in the same order; real server in a child process`,
        `wrk, ${config.listConnections} connections, ${config.batchRounds} alternating rounds of ${config.batchSeconds} s each after ${warmupSeconds} s warm-ups; medians of the rounds`,
        `batch/separate per round: ${roundRatios.map(fmt.ratio).join(', ')}`,
        `server CPU: the server process's user + system seconds over each round ÷ the device reads it served${run.store === 'postgres' ? " (PostgreSQL's own processes not included)" : ''}`,
        ...(failures ? [`!!! ${failures} responses were not 2xx or failed !!!`] : []),
      ],
    });
    data[run.store] = { devices: run.devices, single: run.single, batch: run.batch, singleReads, batchReads, roundRatios, ratio, cpuPerRead: { single: singleCpu, batch: batchCpu } };
  }
  return { name: 'batch', tables, data: { batchSize, batchCount, connections: config.listConnections, seconds: config.batchSeconds, rounds: config.batchRounds, stores: data } };
}
