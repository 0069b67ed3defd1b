import type { ResultBody, WorkItem } from '../domain/agent-protocol.js';
import type { InstalledVersions } from '../domain/device-health.js';
import type { DeviceType, SoftwareType } from '../domain/enums.js';
import { demoSoftwareVersions, type DeviceFamily } from '../seed/demo-tables.js';
import type { RandomSource } from '../seed/seeded-random.js';
import { failureMessage, updateFailures, type UpdateFailure } from './update-failures.js';

/** How a software update will go, decided when it starts. */
export type UpdatePlan =
  | { kind: 'refused'; result: ResultBody }
  | {
    kind: 'run';
    type: SoftwareType;
    version: string;
    phases: string[];
    /** the update ends in this failure, after its phase */
    failure: UpdateFailure | null;
    /** the installer reports success but changes nothing */
    mismatch: boolean;
    /** firmware and OS updates restart the device once accepted */
    reboots: boolean;
  };

/**
 * The software a simulated device runs and how its updates end: installed, failed with a
 * realistic error (update-failures.ts), or "installed" while the old version stays (which the
 * server turns into a versionMismatch).
 */
export class SimulatedSoftware {
  private current: InstalledVersions;
  private readonly applicable: Set<SoftwareType>;

  constructor(
    installed: InstalledVersions,
    private readonly deviceType: DeviceType,
    private readonly family: DeviceFamily,
    /** "manufacturer model", for messages */
    private readonly model: string,
    private readonly failureRate: number,
    private readonly versionMismatchRate: number,
    private readonly random: RandomSource,
  ) {
    this.current = { ...installed };
    this.applicable = new Set(Object.keys(installed) as SoftwareType[]);
  }

  /** what the device runs now, per software type (a copy) */
  get installed(): InstalledVersions {
    return { ...this.current };
  }

  /** Decides the outcome of an update before it runs, as a real device's fate is sealed by its state. */
  plan(operation: WorkItem): UpdatePlan {
    const type = operation.softwareType;
    const version = operation.softwareVersion;
    if (!type || !version) return this.refused('invalidRequest', 'The operation names no software type or version to install.');
    if (!this.applicable.has(type) && demoSoftwareVersions[type][this.family].length === 0) {
      return this.refused('notApplicable', `A ${this.deviceType} device (${this.model}) has no ${type} to update.`);
    }
    const failure = this.random.next() < this.failureRate ? updateFailures[Math.floor(this.random.next() * updateFailures.length)] : null;
    // Drawn only when asked for, so that fleets without mismatches replay as before.
    const mismatch = !failure && this.versionMismatchRate > 0 && this.random.next() < this.versionMismatchRate;
    const reboots = type === 'firmware' || type === 'operatingSystem';
    const phases = [
      `Downloading ${type} ${version}`,
      'Verifying package signature',
      `Installing ${type} ${version}`,
      reboots ? 'Finalizing; a restart follows' : 'Finalizing',
    ];
    return { kind: 'run', type, version, phases, failure, mismatch, reboots };
  }

  /** The work of `plan` is done: installs what it installs and returns the result to report. */
  finish(plan: Extract<UpdatePlan, { kind: 'run' }>): ResultBody {
    const { type, version, failure } = plan;
    if (failure) {
      const message = failureMessage(failure, { type, version, previous: this.current[type] ?? null, family: this.family }, this.random);
      return { status: 'failed', installed: this.installed, error: { code: failure.code, message } };
    }
    if (!plan.mismatch) {
      this.current = { ...this.current, [type]: version };
      this.applicable.add(type);
    }
    return { status: 'successful', installed: this.installed };
  }

  private refused(code: string, message: string): UpdatePlan {
    return { kind: 'refused', result: { status: 'failed', installed: this.installed, error: { code, message } } };
  }
}
