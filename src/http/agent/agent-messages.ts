import type { EnrollRequest, InventoryBody, ProgressBody } from '../../domain/agent-protocol.js';
import { deviceTypes, activityStates, type ActivityState } from '../../domain/enums.js';
import { badRequest } from '../../domain/errors.js';
import { parseInstalled } from '../../domain/operation-result.js';

export function parseEnrollRequest(body: unknown): EnrollRequest {
  const o = object(body, 'The enrollment request');
  allowOnly(o, ['enrollmentToken', 'deviceType', 'hardwareDetail', 'installed', 'displayName']);
  const token = o.enrollmentToken ?? null;
  if (token !== null && (typeof token !== 'string' || token.length > 200)) throw badRequest("'enrollmentToken' must be a string.");
  const deviceType = deviceTypes.find((t) => t === o.deviceType);
  if (!deviceType) throw badRequest(`'deviceType' must be one of ${deviceTypes.join(', ')}.`);
  const hw = object(o.hardwareDetail, "'hardwareDetail'");
  allowOnly(hw, ['uniqueId', 'serialNumber', 'manufacturer', 'model', 'macAddresses']);
  const text = (name: string) => {
    const v = hw[name];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string' || v.length > 128) throw badRequest(`'hardwareDetail.${name}' must be a string of at most 128 characters.`);
    return v;
  };
  const uniqueId = text('uniqueId');
  const serialNumber = text('serialNumber');
  if (!uniqueId && !serialNumber) throw badRequest("'hardwareDetail' needs a 'uniqueId' or a 'serialNumber'.");
  const macs = hw.macAddresses ?? [];
  if (!Array.isArray(macs) || macs.length > 8 || macs.some((m) => typeof m !== 'string' || !/^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$/.test(m))) {
    throw badRequest("'hardwareDetail.macAddresses' must be a list of MAC addresses.");
  }
  const displayName = o.displayName === undefined || o.displayName === null ? null : String(o.displayName).slice(0, 256);
  return {
    enrollmentToken: token,
    deviceType,
    hardwareDetail: { uniqueId, serialNumber, manufacturer: text('manufacturer'), model: text('model'), macAddresses: macs as string[] },
    installed: o.installed === undefined ? {} : parseInstalled(o.installed),
    displayName,
  };
}

/** The inventory/heartbeat message; Graph-shaped parts are kept as objects, bounded in size by the body limit. */
export function parseInventoryReport(body: unknown): InventoryBody {
  const o = object(body, 'The inventory report');
  allowOnly(o, ['installed', 'activityState', 'peripheralsHealth', 'hardwareHealth', 'loginStatus', 'activePeripherals']);
  const report: InventoryBody = {};
  if (o.installed !== undefined) report.installed = parseInstalled(o.installed);
  if (o.activityState !== undefined) {
    const state = activityStates.find((s) => s === o.activityState);
    if (!state) throw badRequest(`'activityState' must be one of ${activityStates.join(', ')}.`);
    report.activityState = state as ActivityState;
  }
  for (const part of ['peripheralsHealth', 'hardwareHealth', 'loginStatus', 'activePeripherals'] as const) {
    if (o[part] === undefined) continue;
    report[part] = o[part] === null ? null : object(o[part], `'${part}'`);
  }
  return report;
}

export function parseProgress(body: unknown): ProgressBody {
  const o = object(body ?? {}, 'The progress report');
  allowOnly(o, ['percent', 'message']);
  const percent = o.percent ?? null;
  if (percent !== null && (typeof percent !== 'number' || !Number.isInteger(percent) || percent < 0 || percent > 100)) {
    throw badRequest("'percent' must be a whole number from 0 to 100.");
  }
  const message = o.message ?? null;
  if (message !== null && (typeof message !== 'string' || message.length > 512)) throw badRequest("'message' must be a string of at most 512 characters.");
  return { percent: percent as number | null, message: message as string | null };
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw badRequest(`${what} must be a JSON object.`);
  return value as Record<string, unknown>;
}

function allowOnly(o: Record<string, unknown>, allowed: string[]): void {
  const unknown = Object.keys(o).filter((k) => !allowed.includes(k));
  if (unknown.length) throw badRequest(`Unknown properties: ${unknown.map((k) => `'${k.slice(0, 64)}'`).join(', ')}.`);
}
