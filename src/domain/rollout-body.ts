import { rejectUnknown, requireObject } from './action-body.js';
import { softwareTypes } from './enums.js';
import { badRequest } from './errors.js';
import type { RetryPolicy, Rollout, RolloutTarget, StageSpec } from './rollout.js';
import { versionTextPattern } from './software-catalog.js';

/** A rollout's create body, checked; the target's $filter is still text (the OData layer parses it). */
export type RolloutBody = Pick<Rollout, 'displayName' | 'softwareType' | 'softwareVersion' | 'target' | 'includeNewDevices' | 'stages' | 'retry'>;

const maxStages = 20;
const maxDeviceIds = 1000;

/** Without `stages`: one stage of every target, no limit, no threshold (Graph's one-by-one, in one call). */
const defaultStage: StageSpec = {
  percent: 100, count: null, concurrency: null, minSuccessPercent: 0, maxFailurePercent: null, soakMinutes: 0, requiresApproval: false,
};

const defaultRetry: RetryPolicy = { maxAttempts: 1, initialBackoffSeconds: 60 };

/** Validates a POST /teamwork/softwareRollouts body strictly: unknown properties and out-of-range numbers are 400s naming them. */
export function parseRolloutBody(body: unknown): RolloutBody {
  const o = requireObject(body);
  rejectUnknown(o, ['displayName', 'softwareType', 'softwareVersion', 'target', 'includeNewDevices', 'stages', 'retry'], 'softwareRollout');
  if (typeof o.displayName !== 'string' || o.displayName.trim() === '' || o.displayName.length > 256) {
    throw badRequest("'displayName' is required: a string of 1 to 256 characters.");
  }
  const softwareType = softwareTypes.find((t) => t === o.softwareType);
  if (!softwareType) throw badRequest(`'softwareType' is required, one of ${softwareTypes.join(', ')}.`);
  let softwareVersion: string | null = null;
  if (o.softwareVersion !== undefined && o.softwareVersion !== null) {
    if (typeof o.softwareVersion !== 'string' || !versionTextPattern.test(o.softwareVersion)) {
      throw badRequest("'softwareVersion' must be 1 to 64 characters of letters, digits and '.', '-', '+', '_' (or omitted: the newest each device is offered).");
    }
    softwareVersion = o.softwareVersion;
  }
  const includeNewDevices = o.includeNewDevices ?? false;
  if (typeof includeNewDevices !== 'boolean') throw badRequest("'includeNewDevices' must be true or false.");
  const target = parseTarget(o.target);
  if (includeNewDevices && 'deviceIds' in target) throw badRequest("'includeNewDevices' needs a target 'filter': a list of ids names no device that enrolls later.");
  const stages = o.stages === undefined ? [defaultStage] : parseStages(o.stages);
  return { displayName: o.displayName, softwareType, softwareVersion, target, includeNewDevices, stages, retry: parseRetry(o.retry) };
}

function parseTarget(raw: unknown): RolloutTarget {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw badRequest("'target' is required: {\"filter\": \"<a devices $filter>\"} or {\"deviceIds\": [...]}.");
  }
  const t = raw as Record<string, unknown>;
  rejectUnknown(t, ['filter', 'deviceIds'], 'softwareRolloutTarget');
  if ((t.filter === undefined) === (t.deviceIds === undefined)) throw badRequest("'target' needs exactly one of 'filter' and 'deviceIds'.");
  if (t.filter !== undefined) {
    if (typeof t.filter !== 'string' || t.filter.trim() === '') throw badRequest("'target.filter' must be a devices $filter, e.g. \"deviceType eq 'teamsRoom'\".");
    return { filter: t.filter };
  }
  const ids = t.deviceIds;
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > maxDeviceIds || !ids.every((id) => typeof id === 'string' && id.length > 0 && id.length <= 64)) {
    throw badRequest(`'target.deviceIds' must be a list of 1 to ${maxDeviceIds} device ids.`);
  }
  return { deviceIds: [...new Set(ids as string[])] };
}

function parseStages(raw: unknown): StageSpec[] {
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > maxStages) throw badRequest(`'stages' must be a list of 1 to ${maxStages} stages.`);
  return raw.map((stage, i) => {
    const at = `stages[${i}]`;
    if (stage === null || typeof stage !== 'object' || Array.isArray(stage)) throw badRequest(`'${at}' must be an object.`);
    const s = stage as Record<string, unknown>;
    rejectUnknown(s, ['percent', 'count', 'concurrency', 'minSuccessPercent', 'maxFailurePercent', 'soakMinutes', 'requiresApproval'], 'softwareRolloutStage');
    if (s.percent !== undefined && s.count !== undefined) throw badRequest(`'${at}' takes 'percent' or 'count', not both.`);
    const percent = s.percent === undefined && s.count === undefined ? 100 : optionalNumber(s.percent, `${at}.percent`, 1, 100);
    const requiresApproval = s.requiresApproval ?? false;
    if (typeof requiresApproval !== 'boolean') throw badRequest(`'${at}.requiresApproval' must be true or false.`);
    return {
      percent,
      count: optionalNumber(s.count, `${at}.count`, 1, 10_000_000),
      concurrency: optionalNumber(s.concurrency, `${at}.concurrency`, 1, 100_000),
      minSuccessPercent: optionalNumber(s.minSuccessPercent, `${at}.minSuccessPercent`, 0, 100) ?? 0,
      maxFailurePercent: optionalNumber(s.maxFailurePercent, `${at}.maxFailurePercent`, 0, 100),
      soakMinutes: optionalNumber(s.soakMinutes, `${at}.soakMinutes`, 0, 60 * 24 * 90) ?? 0,
      requiresApproval,
    };
  });
}

function parseRetry(raw: unknown): RetryPolicy {
  if (raw === undefined || raw === null) return defaultRetry;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw badRequest("'retry' must be an object: {\"maxAttempts\": 3}.");
  const r = raw as Record<string, unknown>;
  rejectUnknown(r, ['maxAttempts', 'initialBackoffSeconds'], 'softwareRolloutRetry');
  return {
    maxAttempts: optionalNumber(r.maxAttempts, 'retry.maxAttempts', 1, 10) ?? defaultRetry.maxAttempts,
    initialBackoffSeconds: optionalNumber(r.initialBackoffSeconds, 'retry.initialBackoffSeconds', 1, 3600) ?? defaultRetry.initialBackoffSeconds,
  };
}

function optionalNumber(value: unknown, name: string, min: number, max: number): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw badRequest(`'${name}' must be a whole number from ${min} to ${max}.`);
  }
  return value;
}
