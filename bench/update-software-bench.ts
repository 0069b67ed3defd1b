import type { BenchConfig } from './bench-config.js';
import { fmt, goalText, progress, ratioOf, type BenchOutcome } from './bench-report.js';
import type { BenchWorkspace } from './bench-workspace.js';
import { loadSummary, runLoad, unexpectedStatuses, type LoadRequest } from './load.js';
import { startTarget } from './target-process.js';
import { RequestCursor, updateRequests } from './update-targets.js';

/**
 * updateSoftware throughput: the real route (auth, validation, 409 rule, committed to disk
 * before the 202) against a bare Fastify route that answers 202 and stores nothing. Both run
 * in a child process of their own; autocannon runs here. Every request of the real server
 * goes to a (device, softwareType) pair no earlier request used, so none may get a 409.
 */
export async function updateSoftwareBench(config: BenchConfig, workspace: BenchWorkspace): Promise<BenchOutcome> {
  progress(`updateSoftware: seeding ${fmt.int(config.updateDevices)} devices`);
  const { file, added } = await workspace.seed('update', config.updateDevices);
  const token = await workspace.token('update');
  const requests = updateRequests(workspace.deviceKeys('update'));
  progress(`updateSoftware: ${fmt.int(requests.length)} distinct (device, softwareType) requests available`);
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

  const measure = async (kind: 'bare' | 'real', cursor: RequestCursor) => {
    const target = await startTarget(kind, kind === 'real' ? file.path : undefined);
    try {
      const first = await post(target.url, cursor.next(), headers);
      if (first.status !== 202) throw new Error(`${kind}: first updateSoftware answered ${first.status}: ${first.text.slice(0, 300)}`);
      const load = (seconds: number) =>
        runLoad({ url: target.url, connections: config.updateConnections, seconds, method: 'POST', headers, next: cursor.next });
      progress(`updateSoftware: ${kind} warm-up ${config.warmupSeconds} s`);
      const warmup = await load(config.warmupSeconds);
      progress(`updateSoftware: ${kind} measured run ${config.updateSeconds} s, ${config.updateConnections} connections`);
      const measured = await load(config.updateSeconds);
      return { warmup, measured };
    } finally {
      await target.stop();
    }
  };

  const bare = await measure('bare', new RequestCursor(requests));
  const realCursor = new RequestCursor(requests);
  const real = await measure('real', realCursor);

  const rpsRatio = ratioOf(real.measured.rps, bare.measured.rps);
  const p50Ratio = ratioOf(real.measured.p50, bare.measured.p50);
  const p99Ratio = ratioOf(real.measured.p99, bare.measured.p99);
  const wrong = unexpectedStatuses(real.measured, 202);
  const wrongWarmup = unexpectedStatuses(real.warmup, 202);
  const bareWrong = unexpectedStatuses(bare.measured, 202);
  const notes = [
    `layout: bare and real server each in its own child process (node dist/bench/bench-target.js), autocannon in the parent; 127.0.0.1`,
    `${config.updateConnections} connections, ${config.updateSeconds} s measured after ${config.warmupSeconds} s warm-up, one after the other (bare first)`,
    `real server: fresh SQLite file, ${fmt.int(file.devices)} devices seeded` +
      (added ? ` (${fmt.int(added.devicesPerSecond)} devices/s)` : '') +
      `, ${fmt.int(requests.length)} distinct (device, softwareType) requests, ${fmt.int(realCursor.used)} used` +
      (realCursor.wraps ? ` — RAN OUT and wrapped ${realCursor.wraps}×, later requests may be 409` : ''),
    `responses counted: real ${fmt.int(real.measured.responses)}, bare ${fmt.int(bare.measured.responses)}`,
    wrong.count === 0
      ? `non-202 responses from the real server (measured run): 0` + (wrongWarmup.count ? `; during warm-up: ${wrongWarmup.count} (${wrongWarmup.text})` : ' (warm-up: 0)')
      : `!!! NON-202 RESPONSES FROM THE REAL SERVER: ${fmt.int(wrong.count)} (${wrong.text}) — the figures above are NOT valid !!!`,
    ...(bareWrong.count ? [`!!! bare server gave ${bareWrong.count} non-202 (${bareWrong.text}) !!!`] : []),
  ];
  return {
    name: 'updateSoftware',
    tables: [
      {
        title: 'updateSoftware throughput: real route vs bare Fastify 202 handler',
        columns: { measured: 'real server', baseline: 'bare Fastify', ratio: 'real/bare' },
        rows: [
          { figure: 'requests/s', measured: fmt.rps(real.measured.rps), baseline: fmt.rps(bare.measured.rps), ratio: fmt.ratio(rpsRatio), goal: goalText(rpsRatio >= 0.8, '>= 0.80') },
          { figure: 'p50 latency (ms)', measured: fmt.ms(real.measured.p50), baseline: fmt.ms(bare.measured.p50), ratio: fmt.ratio(p50Ratio) },
          { figure: 'p99 latency (ms)', measured: fmt.ms(real.measured.p99), baseline: fmt.ms(bare.measured.p99), ratio: fmt.ratio(p99Ratio), goal: goalText(p99Ratio <= 2, '<= 2.00') },
        ],
        notes,
      },
    ],
    data: {
      connections: config.updateConnections,
      seconds: config.updateSeconds,
      warmupSeconds: config.warmupSeconds,
      devices: file.devices,
      seeding: added,
      distinctRequests: requests.length,
      realRequestsUsed: realCursor.used,
      realWrapped: realCursor.wraps,
      bare: loadSummary(bare.measured),
      real: loadSummary(real.measured),
      realWarmupStatusCounts: real.warmup.statusCounts,
      ratios: { rps: rpsRatio, p50: p50Ratio, p99: p99Ratio },
      realNon202: wrong.count,
    },
  };
}

async function post(url: string, request: LoadRequest, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  const response = await fetch(url + request.path, { method: 'POST', headers, body: request.body });
  return { status: response.status, text: await response.text() };
}
