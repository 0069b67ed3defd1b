import autocannon from 'autocannon';

export interface LoadRequest {
  path: string;
  body?: string;
}

export interface LoadOptions {
  url: string;
  connections: number;
  seconds: number;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  /** a fixed path, or a function giving every request its own path and body */
  path?: string;
  next?: () => LoadRequest;
}

export interface LoadResult {
  /** mean of autocannon's per-second request counts */
  rps: number;
  /** latency percentiles in milliseconds */
  p50: number;
  p99: number;
  /** responses received */
  responses: number;
  seconds: number;
  statusCounts: Record<string, number>;
  errors: number;
  timeouts: number;
  /** CPU seconds this process (autocannon) used during the run */
  loadCpuSeconds: number;
}

/** One autocannon run from this process against a target in another process. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const next = options.next;
  const cpuBefore = process.cpuUsage();
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.seconds,
    method: options.method,
    headers: options.headers,
    requests: [
      next
        ? {
            method: options.method,
            setupRequest: (request) => {
              const { path, body } = next();
              request.path = path;
              if (body !== undefined) request.body = body;
              return request;
            },
          }
        : { method: options.method, path: options.path ?? '/' },
    ],
  });
  const cpu = process.cpuUsage(cpuBefore);
  const statusCounts: Record<string, number> = {};
  let responses = 0;
  for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) {
    statusCounts[code] = Number(count);
    responses += Number(count);
  }
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    responses,
    seconds: result.duration,
    statusCounts,
    errors: result.errors,
    timeouts: result.timeouts,
    loadCpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}

/** Responses whose status is not `expected`, e.g. "409×12, 500×1" (empty when none). */
export function unexpectedStatuses(result: LoadResult, expected: number): { count: number; text: string } {
  const others = Object.entries(result.statusCounts).filter(([code]) => Number(code) !== expected);
  const count = others.reduce((sum, [, n]) => sum + n, 0) + result.errors;
  const parts = others.map(([code, n]) => `${code}×${n}`);
  if (result.errors) parts.push(`connection errors×${result.errors}`);
  return { count, text: parts.join(', ') };
}

/** The figures of a run for the JSON results file. */
export function loadSummary(result: LoadResult): Record<string, unknown> {
  return {
    rps: result.rps,
    p50Ms: result.p50,
    p99Ms: result.p99,
    responses: result.responses,
    seconds: result.seconds,
    statusCounts: result.statusCounts,
    errors: result.errors,
    timeouts: result.timeouts,
    loadCpuSeconds: result.loadCpuSeconds,
  };
}

export interface GetMeasurement {
  path: string;
  warmup: LoadResult;
  measured: LoadResult;
  /** responses of the measured run that were not 200 (connection errors included) */
  unexpected: { count: number; text: string };
}

/** A warm-up run (discarded) and then a measured run of GET requests to one path. */
export async function measureGet(
  url: string,
  path: string,
  headers: Record<string, string>,
  options: { connections: number; seconds: number; warmupSeconds: number },
): Promise<GetMeasurement> {
  const base = { url, connections: options.connections, method: 'GET' as const, headers, path };
  const warmup = await runLoad({ ...base, seconds: options.warmupSeconds });
  const measured = await runLoad({ ...base, seconds: options.seconds });
  return { path, warmup, measured, unexpected: unexpectedStatuses(measured, 200) };
}
