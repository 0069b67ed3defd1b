import { readFileSync } from 'node:fs';
import type { HardwareDetail } from '../domain/device.js';
import { deviceTypes, softwareTypes, type DeviceType, type SoftwareType } from '../domain/enums.js';

/** How one software type is installed and read back on this host. */
export interface SoftwareCommands {
  /** installs TWD_VERSION (from TWD_ARTIFACT when the catalog entry has one) */
  install: string;
  /** prints the installed version (the first line of its output counts) */
  version: string;
}

/** The agent's `--config` file (docs/agent.md). */
export interface AgentConfig {
  device: {
    deviceType: DeviceType;
    displayName: string | null;
    /** omitted parts are read from the host (host-facts.ts) */
    hardwareDetail: Partial<HardwareDetail> | null;
  };
  software: Partial<Record<SoftwareType, SoftwareCommands>>;
  restart: string | null;
  diagnostics: string | null;
  inventoryIntervalSeconds: number;
  /** longest an install, restart or diagnostics command may run */
  commandTimeoutSeconds: number;
}

export class AgentConfigError extends Error {}

/** Reads and checks the config file; every mistake is named with its place in the file. */
export function readAgentConfig(path: string): AgentConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new AgentConfigError(`cannot read the config file ${path}: ${(error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new AgentConfigError(`the config file ${path} is not JSON: ${(error as Error).message}`);
  }
  return parseAgentConfig(raw);
}

export function parseAgentConfig(raw: unknown): AgentConfig {
  const root = object(raw, 'the config');
  known(root, ['device', 'software', 'restart', 'diagnostics', 'inventoryIntervalSeconds', 'commandTimeoutSeconds'], 'the config');
  const device = object(root.device, 'device');
  known(device, ['deviceType', 'displayName', 'hardwareDetail'], 'device');
  if (!deviceTypes.includes(device.deviceType as DeviceType)) throw new AgentConfigError(`device.deviceType must be one of ${deviceTypes.join(', ')}`);
  let hardwareDetail: Partial<HardwareDetail> | null = null;
  if (device.hardwareDetail !== undefined && device.hardwareDetail !== null) {
    const hardware = object(device.hardwareDetail, 'device.hardwareDetail');
    known(hardware, ['uniqueId', 'serialNumber', 'manufacturer', 'model', 'macAddresses'], 'device.hardwareDetail');
    hardwareDetail = {};
    for (const name of ['uniqueId', 'serialNumber', 'manufacturer', 'model'] as const) {
      if (hardware[name] !== undefined) hardwareDetail[name] = text(hardware[name], `device.hardwareDetail.${name}`, 128);
    }
    if (hardware.macAddresses !== undefined) {
      if (!Array.isArray(hardware.macAddresses)) throw new AgentConfigError('device.hardwareDetail.macAddresses must be a list of strings');
      hardwareDetail.macAddresses = hardware.macAddresses.map((mac, i) => text(mac, `device.hardwareDetail.macAddresses[${i}]`, 64));
    }
  }
  const software: AgentConfig['software'] = {};
  const softwareRoot = root.software === undefined ? {} : object(root.software, 'software');
  for (const [type, value] of Object.entries(softwareRoot)) {
    if (!softwareTypes.includes(type as SoftwareType)) throw new AgentConfigError(`software.${type} is not a software type; use ${softwareTypes.join(', ')}`);
    const commands = object(value, `software.${type}`);
    known(commands, ['install', 'version'], `software.${type}`);
    software[type as SoftwareType] = { install: text(commands.install, `software.${type}.install`), version: text(commands.version, `software.${type}.version`) };
  }
  return {
    device: {
      deviceType: device.deviceType as DeviceType,
      displayName: device.displayName === undefined || device.displayName === null ? null : text(device.displayName, 'device.displayName', 256),
      hardwareDetail,
    },
    software,
    restart: optionalCommand(root.restart, 'restart'),
    diagnostics: optionalCommand(root.diagnostics, 'diagnostics'),
    inventoryIntervalSeconds: seconds(root.inventoryIntervalSeconds, 'inventoryIntervalSeconds', 300),
    commandTimeoutSeconds: seconds(root.commandTimeoutSeconds, 'commandTimeoutSeconds', 3600),
  };
}

function object(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new AgentConfigError(`${where} must be an object`);
  return value as Record<string, unknown>;
}

function known(value: Record<string, unknown>, names: string[], where: string): void {
  const unknown = Object.keys(value).filter((name) => !names.includes(name));
  if (unknown.length > 0) throw new AgentConfigError(`${where} has unknown ${unknown.length === 1 ? 'property' : 'properties'} ${unknown.join(', ')}`);
}

function text(value: unknown, where: string, max = 4096): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > max) throw new AgentConfigError(`${where} must be a non-empty string of at most ${max} characters`);
  return value;
}

function optionalCommand(value: unknown, where: string): string | null {
  return value === undefined || value === null ? null : text(value, where);
}

function seconds(value: unknown, where: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 86_400) throw new AgentConfigError(`${where} must be a whole number of seconds from 1 to 86400`);
  return value;
}
