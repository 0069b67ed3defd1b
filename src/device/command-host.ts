import type { InventoryBody, ResultBody } from '../domain/agent-protocol.js';
import type { HardwareDetail } from '../domain/device.js';
import type { InstalledVersions } from '../domain/device-health.js';
import type { SoftwareType } from '../domain/enums.js';
import { linkedAbort } from '../domain/linked-abort.js';
import type { AgentConfig } from './agent-config.js';
import type { AgentStateDir } from './agent-state.js';
import { downloadArtifact } from './artifact-download.js';
import { runCommand, type CommandOutcome } from './command-runner.js';
import { stoppedOutcome, type DeviceHost, type HostOutcome, type OperationRun, type ProgressOutcome } from './device-host.js';

/** A version command gets this long. */
const versionTimeoutMs = 30_000;
/** While a command prints no progress, the agent still asks this often whether an admin cancelled. */
const cancelCheckMs = 10_000;
/**
 * Diagnostics output kept as the result: within the server's 64 KiB limit on a request body,
 * with room for JSON escaping. Larger log bundles belong in a file the command uploads itself.
 */
const maxDiagnosticsBytes = 32 * 1024;

/**
 * A real device host: its updates, restarts and diagnostics are the commands of the agent's
 * config file (agent-config.ts), run in a process group of their own (command-runner.ts);
 * an update's artifact is downloaded and checked first (artifact-download.ts).
 */
export class CommandHost implements DeviceHost {
  private credential: string | null = null;

  constructor(
    private readonly config: AgentConfig,
    private readonly state: AgentStateDir,
    private readonly facts: HardwareDetail,
    private readonly serverUrl: string,
  ) {}

  async enrollment() {
    const configured = this.config.device.hardwareDetail ?? {};
    const hardwareDetail: HardwareDetail = {
      uniqueId: configured.uniqueId ?? this.facts.uniqueId,
      serialNumber: configured.serialNumber ?? this.facts.serialNumber,
      manufacturer: configured.manufacturer ?? this.facts.manufacturer,
      model: configured.model ?? this.facts.model,
      macAddresses: configured.macAddresses ?? this.facts.macAddresses,
    };
    return { deviceType: this.config.device.deviceType, hardwareDetail, installed: await this.installed(), displayName: this.config.device.displayName };
  }

  async enrolled(deviceId: string, credential: string): Promise<void> {
    this.credential = credential;
    this.state.saveIdentity({ deviceId, credential });
  }

  async inventory(): Promise<InventoryBody> {
    return { installed: await this.installed() };
  }

  inventoryDelivered(): void {}

  run(run: OperationRun): Promise<HostOutcome> {
    switch (run.operation.operationType) {
      case 'softwareUpdate':
        return this.update(run);
      case 'deviceRestart':
        return this.restartDevice(run);
      case 'deviceDiagnostics':
        return this.diagnose(run);
      default:
        return Promise.resolve(notSupported(`This agent does not run '${run.operation.operationType}' operations.`));
    }
  }

  /** Runs the restart command; if the host does go down, the agent is started again with it. */
  async restart(signal: AbortSignal): Promise<void> {
    if (!this.config.restart) return;
    await runCommand(this.config.restart, { timeoutMs: this.config.commandTimeoutSeconds * 1000, signal });
  }

  /** What every configured software type reports as installed now; a failing version command reports nothing. */
  private async installed(): Promise<InstalledVersions> {
    const installed: InstalledVersions = {};
    for (const [type, commands] of Object.entries(this.config.software) as [SoftwareType, { version: string }][]) {
      const outcome = await runCommand(commands.version, { timeoutMs: versionTimeoutMs, maxOutputBytes: 4096 });
      const version = outcome.exitCode === 0 ? outcome.stdout.split('\n')[0].trim() : '';
      if (version !== '') installed[type] = version.slice(0, 64);
    }
    return installed;
  }

  private async update(run: OperationRun): Promise<HostOutcome> {
    const { operation } = run;
    const type = operation.softwareType;
    const commands = type ? this.config.software[type] : undefined;
    if (!type || !operation.softwareVersion || !commands) {
      return notSupported(`This agent has no install command for ${type ?? 'that software type'}.`);
    }
    if (run.resumed) {
      // The agent (or its host) went down during the operation. Once the install had begun,
      // what is installed now says how it went; before that (a download), the work goes on.
      const installed = await this.installed();
      if (installed[type] === operation.softwareVersion) return report({ status: 'successful', installed });
      if (this.state.installBegun(operation.id)) {
        return report({ status: 'failed', installed, error: { code: 'installInterrupted', message: `The install of ${type} ${operation.softwareVersion} was interrupted; ${installed[type] ?? 'nothing'} is installed.` } });
      }
      run.log(`operation ${operation.id} stopped before its install began; going on`);
    }
    let artifactPath: string | undefined;
    if (operation.artifact) {
      const progress = await run.progress(0, `Downloading ${type} ${operation.softwareVersion}`);
      if (progress !== 'ok') return stoppedOutcome(progress);
      const downloaded = await downloadArtifact(operation.artifact, {
        serverUrl: this.serverUrl,
        credential: this.credential,
        dir: this.state.downloads,
        signal: run.signal,
        log: run.log,
      });
      if (downloaded.kind === 'stopped') return { kind: 'abandoned' };
      if (downloaded.kind === 'corrupt') return report({ status: 'failed', installed: await this.installed(), error: { code: 'artifactCorrupt', message: downloaded.message } });
      artifactPath = downloaded.path;
    }
    this.state.markInstallBegun(operation.id);
    const outcome = await this.command(run, commands.install, {
      TWD_SOFTWARE_TYPE: type,
      TWD_VERSION: operation.softwareVersion,
      TWD_ARTIFACT: artifactPath,
      TWD_OPERATION_ID: operation.id,
    }, `Installing ${type} ${operation.softwareVersion}`);
    if ('kind' in outcome) return outcome;
    const installed = await this.installed();
    if (outcome.timedOut) return report({ status: 'failed', installed, error: { code: 'timeout', message: `The install command ran past ${this.config.commandTimeoutSeconds} s and was stopped.` } });
    if (outcome.exitCode !== 0) {
      return report({ status: 'failed', installed, error: { code: 'installFailed', message: failureMessage('The install command', outcome) } });
    }
    // The server compares what is installed with what was asked (versionMismatch).
    return report({ status: 'successful', installed });
  }

  private async restartDevice(run: OperationRun): Promise<HostOutcome> {
    if (!this.config.restart) return notSupported('This agent has no restart command configured.');
    // A restart that was under way when the agent went down has happened.
    if (run.resumed) return report({ status: 'successful' });
    return { kind: 'report', result: { status: 'successful' }, restart: true };
  }

  private async diagnose(run: OperationRun): Promise<HostOutcome> {
    if (!this.config.diagnostics) return notSupported('This agent has no diagnostics command configured.');
    const outcome = await this.command(run, this.config.diagnostics, { TWD_OPERATION_ID: run.operation.id }, 'Collecting diagnostics', maxDiagnosticsBytes);
    if ('kind' in outcome) return outcome;
    if (outcome.timedOut || outcome.exitCode !== 0) {
      return report({ status: 'failed', error: { code: outcome.timedOut ? 'timeout' : 'diagnosticsFailed', message: failureMessage('The diagnostics command', outcome) } });
    }
    return report({ status: 'successful', diagnostics: { output: outcome.stdout, truncated: outcome.truncated } });
  }

  /**
   * Runs a command for an operation: its progress lines become progress reports, and an
   * admin's cancel (learnt from any progress answer) kills its process group.
   */
  private async command(run: OperationRun, command: string, env: Record<string, string | undefined>, starting: string, maxOutputBytes?: number): Promise<CommandOutcome | HostOutcome> {
    const stop = new AbortController();
    let progressStop: Exclude<ProgressOutcome, 'ok'> | null = null;
    let last: [number | null, string] = [0, starting];
    const relay = (percent: number | null, message: string) => {
      last = [percent, message];
      void run.progress(percent, message).then((outcome) => {
        if (outcome !== 'ok' && !progressStop) {
          progressStop = outcome;
          stop.abort();
        }
      });
    };
    relay(0, starting);
    const checks = setInterval(() => relay(...last), cancelCheckMs);
    const abort = linkedAbort([stop.signal, run.signal]);
    try {
      const outcome = await runCommand(command, {
        env,
        timeoutMs: this.config.commandTimeoutSeconds * 1000,
        signal: abort.signal,
        maxOutputBytes,
        onProgress: relay,
      });
      if (run.signal.aborted) return { kind: 'abandoned' };
      if (progressStop) return stoppedOutcome(progressStop);
      return outcome;
    } finally {
      clearInterval(checks);
      abort.release();
    }
  }
}

function report(result: ResultBody): HostOutcome {
  return { kind: 'report', result };
}

function notSupported(message: string): HostOutcome {
  return report({ status: 'failed', error: { code: 'notSupported', message } });
}

/** "<what> exited with 3: <the end of its stderr>", within the server's limit on error messages. */
function failureMessage(what: string, outcome: CommandOutcome): string {
  const how = outcome.timedOut ? 'ran too long and was stopped' : outcome.exitCode === null ? 'could not be run' : `exited with ${outcome.exitCode}`;
  const tail = outcome.stderrTail.trim().split('\n').slice(-5).join(' | ');
  return `${what} ${how}${tail ? `: ${tail}` : ''}`.slice(0, 1000);
}

