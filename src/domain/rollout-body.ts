import { softwareTypes } from './enums.js';
import { badRequest } from './errors.js';
import { deviceTargetSchema, displayNameSchema, distinctTarget } from './request-schemas.js';
import type { RetryPolicy, Rollout, StageSpec } from './rollout.js';
import { versionSchema } from './software-catalog.js';

/** A rollout's create body, checked; the target's $filter is still text (the OData layer parses it). */
export type RolloutBody = Pick<Rollout, 'displayName' | 'softwareType' | 'softwareVersion' | 'target' | 'includeNewDevices' | 'stages' | 'retry'>;

const maxStages = 20;

/** Without `stages`: one stage of every target, no limit, no threshold (Graph's one-by-one, in one call). */
const defaultStage: StageSpec = {
  percent: 100, count: null, concurrency: null, minSuccessPercent: 0, maxFailurePercent: null, soakMinutes: 0, requiresApproval: false,
};

const defaultRetry: RetryPolicy = { maxAttempts: 1, initialBackoffSeconds: 60 };

const wholeNumber = (minimum: number, maximum: number, description?: string) =>
  ({ type: ['integer', 'null'], minimum, maximum, ...(description ? { description } : {}) }) as const;

const stageSchema = {
  title: 'softwareRolloutStage',
  description: "'percent' or 'count' of the target, not both (neither: 100 percent)",
  type: 'object',
  additionalProperties: false,
  not: { required: ['percent', 'count'] },
  properties: {
    percent: wholeNumber(1, 100, 'of all the targets, rounded up'),
    count: wholeNumber(1, 10_000_000),
    concurrency: wholeNumber(1, 100_000, 'devices running at once; null: no limit'),
    minSuccessPercent: wholeNumber(0, 100, 'successes the stage needs before the next begins (default 0)'),
    maxFailurePercent: wholeNumber(0, 100, 'failures that pause the rollout; null: none'),
    soakMinutes: wholeNumber(0, 60 * 24 * 90, 'wait after the stage before the next (default 0)'),
    requiresApproval: { type: ['boolean', 'null'], description: 'the stage begins only after approve' },
  },
} as const;

/** POST /teamwork/softwareRollouts: unknown properties and out-of-range numbers are 400s naming them. */
export const rolloutBodySchema = {
  title: 'softwareRollout',
  type: 'object',
  required: ['displayName', 'softwareType', 'target'],
  additionalProperties: false,
  properties: {
    displayName: displayNameSchema,
    softwareType: { type: 'string', enum: softwareTypes },
    softwareVersion: { ...versionSchema, type: ['string', 'null'], description: `${versionSchema.description}; omitted: the newest each device is offered` },
    target: deviceTargetSchema('softwareRolloutTarget'),
    includeNewDevices: { type: ['boolean', 'null'], description: 'devices that come to match the filter later join the rollout' },
    stages: { type: 'array', minItems: 1, maxItems: maxStages, items: stageSchema },
    retry: {
      title: 'softwareRolloutRetry',
      type: ['object', 'null'],
      additionalProperties: false,
      properties: {
        maxAttempts: wholeNumber(1, 10, 'attempts per device, the first included (default 1)'),
        initialBackoffSeconds: wholeNumber(1, 3600, 'the wait before the second attempt, doubled for each later one (default 60)'),
      },
    },
  },
} as const;

type Nullable<T> = { [K in keyof T]?: T[K] | null };
type RolloutRequest = Pick<RolloutBody, 'displayName' | 'softwareType' | 'target'> & Nullable<Pick<RolloutBody, 'softwareVersion' | 'includeNewDevices'>> & {
  stages?: Array<Nullable<StageSpec>>;
  retry?: Nullable<RetryPolicy> | null;
};

/** A rollout from its body, already checked against rolloutBodySchema: its defaults, and the rule across properties the schema leaves out. */
export function rolloutBodyOf(body: RolloutRequest): RolloutBody {
  const includeNewDevices = body.includeNewDevices ?? false;
  if (includeNewDevices && 'deviceIds' in body.target) throw badRequest("'includeNewDevices' needs a target 'filter': a list of ids names no device that enrolls later.");
  const stages = body.stages?.map((s): StageSpec => ({
    percent: s.percent === undefined && s.count === undefined ? 100 : s.percent ?? null,
    count: s.count ?? null,
    concurrency: s.concurrency ?? null,
    minSuccessPercent: s.minSuccessPercent ?? 0,
    maxFailurePercent: s.maxFailurePercent ?? null,
    soakMinutes: s.soakMinutes ?? 0,
    requiresApproval: s.requiresApproval ?? false,
  }));
  return {
    displayName: body.displayName,
    softwareType: body.softwareType,
    softwareVersion: body.softwareVersion ?? null,
    target: distinctTarget(body.target),
    includeNewDevices,
    stages: stages ?? [defaultStage],
    retry: {
      maxAttempts: body.retry?.maxAttempts ?? defaultRetry.maxAttempts,
      initialBackoffSeconds: body.retry?.initialBackoffSeconds ?? defaultRetry.initialBackoffSeconds,
    },
  };
}
