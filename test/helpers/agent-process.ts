import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { binPath } from './cli-process.js';
import type { TestServer } from './test-server.js';
import { waitFor } from './wait-for.js';

export interface AgentProcessOptions {
  /** where the agent talks to (a proxy in front of the server); the server's URL by default */
  url?: string;
  commandTimeoutSeconds?: number;
  /** the config names no hardware, so the agent reads the host's; this is the host's machine id */
  hostHardware?: string;
  /** config parts beyond device, software and the two intervals (restart, diagnostics) */
  extra?: Record<string, unknown>;
}

/**
 * The real agent (`teamwork-devices agent`) as a process, with its own state dir, software
 * root (`<work>/<name>/software`) and config, whose teamsClient install command is
 * `sh <work>/install.sh <root>` and whose version command reads `<root>/current/VERSION`.
 */
export class AgentProcess {
  readonly stateDir: string;
  readonly root: string;
  readonly uniqueId: string;
  child: ChildProcess | null = null;
  output = '';
  exit: Promise<number | null> = Promise.resolve(null);
  deviceId: string | null = null;
  private readonly configFile: string;
  private readonly url: string;

  constructor(
    private readonly server: TestServer,
    private readonly work: string,
    readonly name: string,
    private readonly token: string,
    options: AgentProcessOptions = {},
  ) {
    this.stateDir = join(work, name, 'state');
    this.root = join(work, name, 'software');
    this.url = options.url ?? server.url;
    mkdirSync(this.root, { recursive: true });
    this.uniqueId = options.hostHardware ?? `uid-${randomUUID()}`;
    const hardwareDetail = options.hostHardware ? undefined : { uniqueId: this.uniqueId, serialNumber: `SN-${name}`, manufacturer: 'test', model: 'rig' };
    const config = {
      device: { deviceType: 'teamsRoom', displayName: `Room ${name}`, hardwareDetail },
      software: { teamsClient: { install: `sh ${join(work, 'install.sh')} ${this.root}`, version: `cat ${this.root}/current/VERSION` } },
      inventoryIntervalSeconds: 2,
      commandTimeoutSeconds: options.commandTimeoutSeconds ?? 20,
      ...options.extra,
    };
    this.configFile = join(work, `${name}.json`);
    writeFileSync(this.configFile, JSON.stringify(config));
  }

  start(): void {
    const child = spawn(process.execPath, [binPath, 'agent', '--url', this.url, '--enrollment-token', this.token,
      '--state-dir', this.stateDir, '--config', this.configFile, '--long-poll-seconds', '5'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.on('data', (chunk) => (this.output += chunk));
    child.stderr!.on('data', (chunk) => (this.output += chunk));
    this.exit = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }

  /** The device id, once the server lists the agent's hardware. */
  async enrolled(): Promise<string> {
    this.deviceId = await waitFor(`agent ${this.name} enrolled`, async () => {
      const response = await this.server.request(`/beta/teamwork/devices?$filter=${encodeURIComponent(`hardwareDetail/uniqueId eq '${this.uniqueId}'`)}`);
      const body = await response.json() as { value: { id: string }[] };
      return body.value[0]?.id;
    }, { timeoutMs: 15_000 });
    return this.deviceId;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    this.child?.kill(signal);
    return this.exit;
  }

  /** The version `current` points at, or null. */
  installed(): string | null {
    try {
      return readFileSync(join(this.root, 'current', 'VERSION'), 'utf8').trim();
    } catch {
      return null;
    }
  }
}
