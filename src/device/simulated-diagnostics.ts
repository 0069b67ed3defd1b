import type { HardwareDetail } from '../domain/device.js';
import type { InstalledVersions } from '../domain/device-health.js';
import type { RandomSource } from '../seed/seeded-random.js';

/** What a simulated device knows about itself when it collects diagnostics. */
export interface DiagnosticsSubject {
  deviceId: string | null;
  hardwareDetail: HardwareDetail;
  installed: InstalledVersions;
  peripheralsConnected: number;
  signedIn: boolean;
}

/** The result of a deviceDiagnostics operation: a log bundle and a summary with plausible figures. */
export function simulatedDiagnostics(subject: DiagnosticsSubject, random: RandomSource, now = new Date()): Record<string, unknown> {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const r = () => random.next();
  return {
    logFile: `diag-${subject.deviceId}-${stamp}.zip`,
    sizeBytes: 2_000_000 + Math.floor(r() * 38_000_000),
    collectedDateTime: now.toISOString(),
    summary: {
      model: `${subject.hardwareDetail.manufacturer} ${subject.hardwareDetail.model}`,
      serialNumber: subject.hardwareDetail.serialNumber,
      installed: subject.installed,
      uptimeSeconds: 600 + Math.floor(r() * 30 * 86_400),
      cpuUsagePercent: 3 + Math.floor(r() * 60),
      memoryUsedPercent: 35 + Math.floor(r() * 55),
      freeStorageMB: 300 + Math.floor(r() * 20_000),
      networkLatencyMs: 5 + Math.floor(r() * 120),
      packetLossPercent: Math.round(r() * r() * 300) / 100,
      crashDumps: r() < 0.1 ? 1 + Math.floor(r() * 3) : 0,
      peripheralsConnected: subject.peripheralsConnected,
      teamsSignedIn: subject.signedIn,
    },
  };
}
