import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import type { HardwareDetail } from '../domain/device.js';

/**
 * What the agent can read about its host's hardware without being told: the machine id, and
 * where DMI is readable (often root only), the serial number, vendor and product; and the MAC
 * addresses of its network interfaces. Anything unreadable is null.
 */
export function hostHardware(): HardwareDetail {
  const macs = new Set<string>();
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (!address.internal && address.mac !== '00:00:00:00:00:00') macs.add(address.mac.toUpperCase());
    }
  }
  return {
    uniqueId: firstLine('/etc/machine-id') ?? firstLine('/var/lib/dbus/machine-id'),
    serialNumber: firstLine('/sys/class/dmi/id/product_serial'),
    manufacturer: firstLine('/sys/class/dmi/id/sys_vendor'),
    model: firstLine('/sys/class/dmi/id/product_name'),
    macAddresses: [...macs].sort(),
  };
}

function firstLine(path: string): string | null {
  try {
    const line = readFileSync(path, 'utf8').split('\n')[0].trim();
    return line === '' ? null : line.slice(0, 128);
  } catch {
    return null;
  }
}
