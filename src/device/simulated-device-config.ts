import type { Device } from '../domain/device.js';
import { SeededRandom, seedOf, type RandomSource } from '../seed/seeded-random.js';
import type { RetryPolicy } from './agent-client.js';
import type { AgentTransport } from './agent-transport.js';

/** How a simulated device behaves; only url, enrollmentToken, template, updateMs and failureRate are required. */
export interface SimulatedDeviceOptions {
  /** base URL of the server, e.g. http://127.0.0.1:8080 */
  url: string;
  enrollmentToken: string;
  /** the credential of an earlier enrollment: the device re-enrolls with it, as a real agent does after a restart */
  credential?: string | null;
  /** a generated device (seed/device-generator) whose hardware, software and peripherals this one has */
  template: Device;
  /** how long an operation runs, ± 30 % */
  updateMs: number;
  /** chance (0..1) that a software update fails with a realistic error */
  failureRate: number;
  /**
   * chance (0..1) that a software update that did not fail reports success while the previous
   * version is still installed (an installer that silently did nothing); the server then fails
   * the operation with versionMismatch
   */
  versionMismatchRate?: number;
  /** how long the device is silent while it restarts (restart, firmware and OS updates) */
  rebootMs?: number;
  /** time between inventory reports (± 20 %) */
  heartbeatMs?: number;
  /** how long the server may hold a work poll (it caps this at 30 s) */
  longPollSeconds?: number;
  /** defaults to a generator seeded from the template's hardware id, so runs repeat */
  random?: RandomSource;
  /** backoff of the agent client while the server is unreachable or failing */
  retry?: Partial<RetryPolicy>;
  /** default: fetch */
  transport?: AgentTransport;
  log?: (msg: string) => void;
}

/** The options with defaults filled in and rates clamped to 0..1. */
export type SimulatedDeviceConfig = Required<Omit<SimulatedDeviceOptions, 'transport' | 'retry' | 'template'>> & Pick<SimulatedDeviceOptions, 'transport' | 'retry'>;

/** Fills in defaults; the random generator is seeded from the hardware id unless given, so runs repeat. */
export function simulatedDeviceConfig(options: SimulatedDeviceOptions): SimulatedDeviceConfig {
  const hardware = options.template.hardwareDetail;
  return {
    url: options.url,
    enrollmentToken: options.enrollmentToken,
    credential: options.credential ?? null,
    updateMs: Math.max(0, options.updateMs),
    failureRate: clamp01(options.failureRate),
    versionMismatchRate: clamp01(options.versionMismatchRate ?? 0),
    rebootMs: options.rebootMs ?? 1500,
    heartbeatMs: options.heartbeatMs ?? 30_000,
    longPollSeconds: Math.max(0, Math.floor(options.longPollSeconds ?? 30)),
    random: options.random ?? new SeededRandom(seedOf(hardware.uniqueId ?? hardware.serialNumber ?? options.template.id)),
    retry: options.retry,
    transport: options.transport,
    log: options.log ?? (() => {}),
  };
}

function clamp01(value: number): number {
  return Math.min(1, Math.max(0, value));
}
