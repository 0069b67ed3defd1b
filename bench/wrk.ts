import { spawn } from 'node:child_process';

/**
 * wrk, the C load generator (Debian package `wrk`): on two cores a JavaScript load
 * generator's own CPU hides the server's, wrk's does not.
 */
export interface WrkOptions {
  url: string;
  headers: Record<string, string>;
  connections: number;
  seconds: number;
  /** a Lua script file (`wrk -s`) that makes the requests: other methods, bodies, many paths */
  script?: string;
}

export interface WrkResult {
  requests: number;
  requestsPerSecond: number;
  /** milliseconds */
  p50: number;
  p99: number;
  /** responses that were not 2xx or 3xx, plus socket errors */
  failures: number;
}

export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  const args = ['-t1', `-c${options.connections}`, `-d${options.seconds}s`, '--latency', '--timeout', '30s'];
  for (const [name, value] of Object.entries(options.headers)) args.push('-H', `${name}: ${value}`);
  if (options.script) args.push('-s', options.script);
  args.push(options.url);
  const output = await run('wrk', args);
  return parseWrk(output);
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.once('error', (error) => reject(new Error(`${command} could not start (apt-get install wrk): ${error.message}`)));
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} exited with ${code}: ${err || out}`))));
  });
}

export function parseWrk(output: string): WrkResult {
  const percentile = (p: number) => {
    const match = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(output);
    if (!match) throw new Error(`wrk printed no ${p}% latency:\n${output}`);
    return Number(match[1]) * { us: 0.001, ms: 1, s: 1000 }[match[2] as 'us' | 'ms' | 's'];
  };
  const requests = /(\d+) requests in/.exec(output);
  const rate = /Requests\/sec:\s+([\d.]+)/.exec(output);
  if (!requests || !rate) throw new Error(`wrk printed no totals:\n${output}`);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const socketErrors = errors ? errors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  return { requests: Number(requests[1]), requestsPerSecond: Number(rate[1]), p50: percentile(50), p99: percentile(99), failures: non2xx + socketErrors };
}
