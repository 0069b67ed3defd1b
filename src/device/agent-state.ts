import { chmodSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What an enrolled agent keeps across restarts. */
export interface AgentIdentity {
  deviceId: string;
  credential: string;
}

/**
 * The agent's `--state-dir`: its identity (device id and credential) and its downloads. The
 * directory is 0700 and the identity file 0600, written whole (rename) so that a crash never
 * leaves half a credential.
 */
export class AgentStateDir {
  readonly downloads: string;
  private readonly identityFile: string;
  private readonly installFile: string;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if ((statSync(dir).mode & 0o077) !== 0) chmodSync(dir, 0o700);
    this.downloads = join(dir, 'downloads');
    mkdirSync(this.downloads, { recursive: true, mode: 0o700 });
    this.identityFile = join(dir, 'identity.json');
    this.installFile = join(dir, 'install-begun');
  }

  /**
   * Records that the install command of an operation is about to run, so that after a crash
   * the agent can tell an interrupted install (report what is installed) from an interrupted
   * download (go on). Only the latest operation matters: one runs at a time.
   */
  markInstallBegun(operationId: string): void {
    writeFileSync(this.installFile, operationId, { mode: 0o600 });
  }

  installBegun(operationId: string): boolean {
    try {
      return readFileSync(this.installFile, 'utf8') === operationId;
    } catch {
      return false;
    }
  }

  /** The identity of an earlier enrollment, or null (none yet, or unreadable: enroll anew). */
  identity(): AgentIdentity | null {
    try {
      const saved = JSON.parse(readFileSync(this.identityFile, 'utf8')) as Partial<AgentIdentity>;
      return typeof saved.deviceId === 'string' && typeof saved.credential === 'string' ? { deviceId: saved.deviceId, credential: saved.credential } : null;
    } catch {
      return null;
    }
  }

  saveIdentity(identity: AgentIdentity): void {
    const temporary = `${this.identityFile}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(identity)}\n`, { mode: 0o600 });
    chmodSync(temporary, 0o600);
    renameSync(temporary, this.identityFile);
  }
}
