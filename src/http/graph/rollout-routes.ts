import type { FastifyRequest } from 'fastify';
import { emptyBodySchema } from '../../domain/action-body.js';
import { rolloutStatuses, type RolloutCounts } from '../../domain/rollout.js';
import { rolloutBodyOf, rolloutBodySchema } from '../../domain/rollout-body.js';
import type { Engine } from '../../engine/engine.js';
import type { RolloutVerb, RolloutView } from '../../engine/rollouts.js';
import type { RolloutDevice } from '../../store/rollout-store.js';
import { callerOf } from '../request-caller.js';
import { optionalBody, type RouteTable } from '../route-table.js';
import { sendCollection, sendJson } from './graph-replies.js';
import { contextUrl, entityBody } from './odata-envelope.js';
import { parseDeviceFilter, parseEnumEqualityFilter } from './odata-filter.js';
import { odataQuerySchema, parseODataQuery, sequencePosition, type PositionReader, type QueryOptionName } from './odata-query.js';

const path = 'teamwork/softwareRollouts';
const verbs: RolloutVerb[] = ['start', 'pause', 'resume', 'approve', 'cancel'];
const pageQuery: QueryOptionName[] = ['top', 'skiptoken'];
const rolloutPosition: PositionReader<string> = (token) => (typeof token === 'string' && token.length <= 64 ? token : undefined);

/**
 * Software rollouts, an extension beside the Graph API (issue 14): one update to many devices
 * in stages, with thresholds, approvals, soak times and retries. Graph-styled bodies and
 * errors, the same tokens and tenants; another tenant's rollout is a 404.
 */
export function addRolloutRoutes(routes: RouteTable, engine: Engine): void {
  const idOf = (request: FastifyRequest) => (request.params as { rolloutId: string }).rolloutId;
  const entity = (request: FastifyRequest, view: RolloutView) => entityBody(contextUrl(request, path, null, '/$entity'), rolloutBody(view));

  routes.add('POST', [`/${path}`], 'write', async (request, reply) => {
    const body = rolloutBodyOf(request.body as Parameters<typeof rolloutBodyOf>[0]);
    const targetFilter = 'filter' in body.target ? parseDeviceFilter(body.target.filter) : null;
    const view = await engine.createRollout(callerOf(request), { ...body, targetFilter });
    return sendJson(reply.code(201).header('location', `/${path}/${view.rollout.id}`), entity(request, view));
  }, { body: rolloutBodySchema });

  routes.add('GET', [`/${path}`], 'read', async (request, reply) => {
    const raw = { ...(request.query as Record<string, unknown>) };
    // $filter here is on the rollout's status, not a devices filter: read apart from the other options.
    const filterKey = Object.keys(raw).find((k) => /^\$?filter$/i.test(k));
    const filterText = filterKey ? String(raw[filterKey]) : null;
    if (filterKey) delete raw[filterKey];
    const status = filterText === null ? null : parseEnumEqualityFilter(filterText, 'status', rolloutStatuses) as (typeof rolloutStatuses)[number];
    const query = parseODataQuery(raw, pageQuery, [], { position: rolloutPosition });
    const scoped = { ...query, tokenScope: filterText ?? '' };
    const page = await engine.listRollouts({ tenantId: callerOf(request).tenantId, status, top: query.top, beforeId: query.position });
    return sendCollection(request, reply, path, scoped, page, rolloutBody);
  }, { querystring: odataQuerySchema(['filter', ...pageQuery], { filter: `status eq '…', one of ${rolloutStatuses.join(', ')}` }) });

  routes.add('GET', [`/${path}/:rolloutId`], 'read', async (request, reply) => {
    return sendJson(reply, entity(request, await engine.getRollout(callerOf(request), idOf(request))));
  });

  routes.add('GET', [`/${path}/:rolloutId/devices`], 'read', async (request, reply) => {
    const query = parseODataQuery(request.query as Record<string, unknown>, pageQuery, [], { position: sequencePosition });
    const page = await engine.rolloutDevices(callerOf(request), idOf(request), query.top, query.position);
    return sendCollection(request, reply, `${path}('${idOf(request)}')/devices`, query, page, rolloutDeviceBody);
  }, { querystring: odataQuerySchema(pageQuery) });

  for (const verb of verbs) {
    routes.add('POST', [`/${path}/:rolloutId/${verb}`], 'write', async (request, reply) => {
      return sendJson(reply, entity(request, await engine.actOnRollout(callerOf(request), idOf(request), verb)));
    }, { body: optionalBody(emptyBodySchema(`softwareRollout.${verb}`)) });
  }
}

/** A rollout as the API shows it: its plan, where it is, and its counts, whole and per stage. */
export function rolloutBody(view: RolloutView): Record<string, unknown> {
  const { rollout: r, counts, stageCounts } = view;
  return {
    id: r.id,
    displayName: r.displayName,
    softwareType: r.softwareType,
    softwareVersion: r.softwareVersion,
    target: r.target,
    includeNewDevices: r.includeNewDevices,
    status: r.status,
    pausedReason: r.pausedReason,
    currentStage: Math.min(r.currentStage, r.stages.length - 1),
    stages: r.stages.map((spec, i) => ({
      ...spec,
      status: stageStatus(view, i),
      soakUntilDateTime: i === r.currentStage && r.stagePhase === 'soaking' ? r.soakUntil : null,
      counts: countsBody(stageCounts[i]),
    })),
    retry: r.retry,
    counts: countsBody(counts),
    createdDateTime: r.createdDateTime,
    createdBy: r.createdBy,
    lastModifiedDateTime: r.lastModifiedDateTime,
    startedDateTime: r.startedDateTime,
    completedDateTime: r.completedDateTime,
  };
}

/** A stage's status: notStarted, awaitingApproval, running, soaking, completed. */
function stageStatus(view: RolloutView, i: number): string {
  const r = view.rollout;
  if (i < r.currentStage) return 'completed';
  if (i > r.currentStage || r.status === 'notStarted') return 'notStarted';
  return r.stagePhase ?? 'notStarted';
}

function countsBody(c: RolloutCounts): Record<string, unknown> {
  return { ...c, skipped: c.skipped.alreadyOnVersion + c.skipped.notOffered + c.skipped.superseded, skippedReasons: c.skipped };
}

function rolloutDeviceBody(d: RolloutDevice): Record<string, unknown> {
  return {
    deviceId: d.deviceId,
    stage: d.stage,
    state: d.state,
    skipReason: d.skipReason,
    operationId: d.operationId,
    attempts: d.attempts,
    nextAttemptDateTime: d.nextAttemptDateTime,
    error: d.error,
    lastChangedDateTime: d.lastChangedDateTime,
  };
}
