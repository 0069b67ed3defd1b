import type { SoftwareType } from '../domain/enums.js';
import type { DeviceFamily } from '../seed/demo-tables.js';
import type { RandomSource } from '../seed/seeded-random.js';

/** What a failure message may mention. */
interface FailureContext {
  type: SoftwareType;
  version: string;
  previous: string | null;
  family: DeviceFamily;
  needMb: number;
  freeMb: number;
  percent: number;
}

export interface UpdateFailure {
  code: string;
  /** the phase (0 download, 1 verify, 2 install, 3 finalize) after which the update ends */
  phase: number;
  message: (context: FailureContext) => string;
}

/** Failures a software update of a real Teams device ends in, in the words such devices use. */
export const updateFailures: readonly UpdateFailure[] = [
  {
    code: 'insufficientStorage',
    phase: 0,
    message: (s) => `Not enough free storage to download ${s.type} ${s.version}: ${s.needMb} MB needed, ${s.freeMb} MB free.`,
  },
  {
    code: 'deviceBusy',
    phase: 0,
    message: (s) => `The device is in a meeting; ${s.type} ${s.version} was not installed. Retry outside meeting hours.`,
  },
  {
    code: 'downloadFailed',
    phase: 0,
    message: (s) => `Downloading ${s.type} ${s.version} failed at ${s.percent} %: the connection to the content delivery network was reset (ECONNRESET).`,
  },
  {
    code: 'signatureInvalid',
    phase: 1,
    message: (s) => `The package for ${s.type} ${s.version} failed signature verification (${s.family === 'windows' ? 'CERT_E_UNTRUSTEDROOT' : 'APK signature digest mismatch'}); it was discarded.`,
  },
  {
    code: 'installFailed',
    phase: 2,
    message: (s) => s.family === 'windows'
      ? `The installer for ${s.type} ${s.version} exited with code 0x80070643 (fatal error during installation); ${s.previous ?? 'the previous version'} is still installed.`
      : `Installing ${s.type} ${s.version} failed: INSTALL_FAILED_INTERNAL_ERROR; ${s.previous ?? 'the previous version'} is still installed.`,
  },
];

/** The message of `failure` with plausible sizes and percentages drawn from `random`. */
export function failureMessage(
  failure: UpdateFailure,
  update: { type: SoftwareType; version: string; previous: string | null; family: DeviceFamily },
  random: RandomSource,
): string {
  return failure.message({
    ...update,
    needMb: 200 + Math.floor(random.next() * 1800),
    freeMb: Math.floor(random.next() * 150),
    percent: 5 + Math.floor(random.next() * 90),
  });
}
