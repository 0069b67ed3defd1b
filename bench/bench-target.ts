/**
 * A benchmark target in its own process, so the load generator (autocannon, in the parent)
 * does not share an event loop with it:
 *
 *   node dist/bench/bench-target.js bare <port>            a bare Fastify app, one POST route → 202
 *   node dist/bench/bench-target.js bare-poll <port>       a bare Fastify app that holds long-polls: the floor of the dispatch bench's memory
 *   node dist/bench/bench-target.js real <port> <db>       the real service (startServer) on db: a SQLite path or postgres:// URL
 *
 * Port 0 picks a free port. Prints `READY <port>` on stdout once listening; SIGTERM closes it.
 * A `MEMORY` line on stdin is answered with `MEMORY <process.memoryUsage() as JSON>` on stdout,
 * taken after a full garbage collection when node runs with --expose-gc. A `LOOP` line is
 * answered with `LOOP {"p50","p99","max"}`: the event loop's delay in ms since the previous
 * `LOOP` (the first one starts measuring and reads 0), after which the histogram starts again.
 * A `HEAPSNAPSHOT <path>` line writes a V8 heap snapshot there (v8.writeHeapSnapshot, which
 * collects garbage first and stops the event loop while it writes) and is answered with
 * `HEAPSNAPSHOT <path>`; bench/heap-snapshot-summary.ts compares two of them.
 */
import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import Fastify, { type FastifyInstance } from 'fastify';
import { serveDefaults } from '../src/config.js';
import { agentPaths, maxLongPollSeconds, type EnrollReply } from '../src/domain/agent-protocol.js';
import { startServer } from '../src/server.js';

const bareRoute = '/beta/teamwork/devices/:deviceId/updateSoftware';

/** A bare app listening on 127.0.0.1 (port 0: a free one), as bench-target's caller expects. */
async function listenOnLoopback(app: FastifyInstance, port: number): Promise<{ port: number; close(): Promise<void> }> {
  await app.listen({ port, host: '127.0.0.1' });
  const address = app.server.address();
  return { port: typeof address === 'object' && address ? address.port : port, close: () => app.close() };
}

async function start(kind: string, port: number, dbPath: string | undefined): Promise<{ port: number; close(): Promise<void> }> {
  if (kind === 'bare') {
    // Fastify defaults (its JSON body parser included); stores nothing, answers 202 with an empty body.
    const app = Fastify({ logger: false });
    app.post(bareRoute, async (_request, reply) => reply.code(202).send());
    return listenOnLoopback(app, port);
  }
  if (kind === 'bare-poll') {
    // What any Fastify long-poll costs, for the same fleet of agents (long-poll-fleet.js): an
    // enrolment that stores nothing, and a poll held by one timer until its wait is over or
    // the device hangs up, then a 204. No store, no credential check, no logging.
    const app = Fastify({ logger: false });
    app.post(agentPaths.enroll, async (_request, reply) => {
      const deviceId = randomUUID();
      return reply.code(201).send({ tenantId: randomUUID(), deviceId, credential: `twd-device.${deviceId}.bare`, longPollSeconds: maxLongPollSeconds } satisfies EnrollReply);
    });
    app.get(agentPaths.work, (request, reply) => {
      const waitSeconds = Number((request.query as { waitSeconds?: string }).waitSeconds ?? maxLongPollSeconds) || 0;
      const timer = setTimeout(() => reply.code(204).send(), waitSeconds * 1000);
      request.raw.once('close', () => clearTimeout(timer));
    });
    return listenOnLoopback(app, port);
  }
  if (kind === 'real') {
    if (!dbPath) throw new Error('real needs a database path');
    // The bench's fleet enrolls thousands of devices from one address: no per-address limit.
    const server = await startServer({ ...serveDefaults, port, host: '127.0.0.1', db: dbPath, logLevel: 'silent', enrollRateLimit: null });
    return { port: Number(new URL(server.url).port), close: () => server.close() };
  }
  throw new Error(`unknown target '${kind}' (bare|bare-poll|real)`);
}

const loopResolutionMs = 10;

/**
 * process.memoryUsage(), after a full garbage collection when gc is exposed (--expose-gc), with
 * each V8 heap space's committed and used bytes: the new space grows under load and shrinks
 * back, the old space holds what survives.
 */
function memoryAfterGc(): NodeJS.MemoryUsage & { gc: boolean; spaces: Record<string, { size: number; used: number }> } {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
  const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, { size: s.space_size, used: s.space_used_size }]));
  return { ...process.memoryUsage(), gc: gc !== undefined, spaces };
}

async function main(): Promise<void> {
  const [kind = '', portText = '0', dbPath] = process.argv.slice(2);
  const target = await start(kind, Number(portText), dbPath);
  // enabled by the first LOOP, so the other benchmarks' targets carry no extra timer
  const loopDelay = monitorEventLoopDelay({ resolution: loopResolutionMs });
  let closing = false;
  const stop = () => {
    if (closing) return;
    closing = true;
    target.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // the parent going away (even by SIGKILL) closes our stdin: never outlive it
  process.stdin.on('end', stop);
  let commands = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    commands += chunk;
    let newline: number;
    while ((newline = commands.indexOf('\n')) >= 0) {
      const command = commands.slice(0, newline).trim();
      commands = commands.slice(newline + 1);
      if (command === 'MEMORY') process.stdout.write(`MEMORY ${JSON.stringify(memoryAfterGc())}\n`);
      if (command.startsWith('HEAPSNAPSHOT ')) {
        const path = command.slice('HEAPSNAPSHOT '.length);
        writeHeapSnapshot(path);
        process.stdout.write(`HEAPSNAPSHOT ${path}\n`);
      }
      if (command === 'LOOP') {
        loopDelay.enable();
        // the histogram holds whole intervals: the sampling resolution is no delay (an empty one reads as NaN → 0)
        const ms = (ns: number) => Math.max(0, ns / 1e6 - loopResolutionMs) || 0;
        process.stdout.write(`LOOP ${JSON.stringify({ p50: ms(loopDelay.percentile(50)), p99: ms(loopDelay.percentile(99)), max: ms(loopDelay.max) })}\n`);
        loopDelay.reset();
      }
    }
  });
  process.stdin.resume();
  process.stdout.write(`READY ${target.port}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
