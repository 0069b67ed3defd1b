import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { progress } from './bench-report.js';

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
  /** arguments after `--`, handed to the script's `init(args)` */
  scriptArgs?: string[];
}

export interface WrkResult {
  requests: number;
  requestsPerSecond: number;
  /** milliseconds */
  p50: number;
  p99: number;
  /** responses that were not 2xx or 3xx, plus socket errors */
  failures: number;
  /** responses that were not 2xx or 3xx (a 409 is one) */
  non2xx: number;
  /** what wrk printed, the script's own lines included */
  output: string;
}

const wrkPackage = 'wrk';
let found: string | null = null;

/**
 * Finds wrk on the PATH, or installs the Debian package when running as root with apt-get;
 * otherwise fails with a message naming the package. Every benchmark that drives load with wrk
 * calls this first, so a missing wrk is said at the start, not after minutes of seeding.
 */
export function ensureWrk(): string {
  if (found) return found;
  let path = onPath('wrk');
  if (!path) {
    const root = process.getuid?.() === 0;
    const aptGet = onPath('apt-get');
    if (!root || !aptGet) {
      throw new Error(`wrk is not installed, and this benchmark drives its HTTP load with it: install the Debian package '${wrkPackage}' (apt-get install -y ${wrkPackage}) and run again`);
    }
    progress(`wrk is not installed: installing the Debian package '${wrkPackage}' (apt-get install -y ${wrkPackage})`);
    const install = () => spawnSync(aptGet, ['install', '-y', wrkPackage], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    let result = install();
    if (result.status !== 0) {
      // A fresh machine may not have package lists yet.
      spawnSync(aptGet, ['update'], { stdio: 'ignore' });
      result = install();
    }
    path = onPath('wrk');
    if (!path) {
      throw new Error(`wrk is not installed and 'apt-get install -y ${wrkPackage}' failed: ${(result.stderr ?? '').trim().slice(0, 500)}`);
    }
  }
  const version = spawnSync(path, ['--version'], { encoding: 'utf8' });
  progress(`wrk: ${path} (${(version.stdout || version.stderr || '').split('\n')[0].trim()})`);
  found = path;
  return path;
}

function onPath(command: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  const wrk = ensureWrk();
  const args = ['-t1', `-c${options.connections}`, `-d${options.seconds}s`, '--latency', '--timeout', '30s'];
  for (const [name, value] of Object.entries(options.headers)) args.push('-H', `${name}: ${value}`);
  if (options.script) args.push('-s', options.script);
  args.push(options.url);
  if (options.scriptArgs?.length) args.push('--', ...options.scriptArgs);
  const output = await run(wrk, args);
  return parseWrk(output);
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.once('error', (error) => reject(new Error(`${command} could not start (apt-get install ${wrkPackage}): ${error.message}`)));
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
  return { requests: Number(requests[1]), requestsPerSecond: Number(rate[1]), p50: percentile(50), p99: percentile(99), failures: non2xx + socketErrors, non2xx, output };
}
