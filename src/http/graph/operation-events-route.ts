import { PassThrough } from 'node:stream';
import { notFound, ServiceError } from '../../domain/errors.js';
import { operationProperties, terminalStatuses, type Operation } from '../../domain/operation.js';
import type { Engine } from '../../engine/engine.js';
import type { Store } from '../../store/store.js';
import { callerOf } from '../request-caller.js';
import { countIn } from '../open-counts.js';
import type { RouteTable } from '../route-table.js';
import { operationBody } from './graph-shapes.js';
import { contextUrl, entityBody } from './odata-envelope.js';
import { parseODataQuery } from './odata-query.js';

/** How many live operation streams one caller, and the whole process, may hold open. */
export interface EventStreamLimits {
  /** per caller (a tenant's user or application): a console shows a few operations at once */
  perCaller: number;
  /** per process: each stream holds a socket and a timer, and its operation is read every interval */
  perProcess: number;
  /** a comment line this often keeps proxies and browsers from timing out an idle stream */
  heartbeatMs: number;
}

export const defaultEventStreamLimits: EventStreamLimits = { perCaller: 10, perProcess: 1000, heartbeatMs: 15_000 };

type Params = { deviceId: string; operationId: string };

/**
 * Beyond Graph: `…/operations/{id}/events`, an operation's state as server-sent events for the
 * console's live view. Bearer-authenticated like every Graph route (browsers read it with fetch
 * and a stream reader; EventSource cannot send the header). One `data:` event with the
 * operation (the GET's JSON) at once and on each change, then the stream ends after a terminal
 * state. Register it on a route table that `$batch` cannot reach: the stream has no end a
 * batch could wait for.
 */
export function addOperationEventRoutes(routes: RouteTable, store: Store, engine: Engine, limits: EventStreamLimits = defaultEventStreamLimits): void {
  const openByCaller = new Map<string, number>();
  let open = 0;

  routes.add('GET', ['/teamwork/devices/:deviceId/operations/:operationId/events'], 'read', async (request, reply) => {
    const caller = callerOf(request);
    const { deviceId, operationId } = request.params as Params;
    parseODataQuery(request.query as Record<string, unknown>, [], operationProperties);
    const operation = await store.getOperation(caller.tenantId, deviceId, operationId);
    if (!operation) throw notFound(`The operation '${operationId.slice(0, 64)}' does not exist on device '${deviceId.slice(0, 64)}'.`);
    const callerKey = `${caller.tenantId}/${caller.kind}/${caller.id}`;
    if ((openByCaller.get(callerKey) ?? 0) >= limits.perCaller) {
      throw new ServiceError('activityLimitReached', `The caller already has ${limits.perCaller} operation event streams open; close one first.`, { 'retry-after': '5' });
    }
    if (open >= limits.perProcess) {
      throw new ServiceError('serviceNotAvailable', `The server is serving ${open} operation event streams; retry after the indicated time.`, { 'retry-after': '5' });
    }
    const countOut = countIn(openByCaller, callerKey);
    open += 1;

    const stream = new PassThrough();
    const context = contextUrl(request, `teamwork/devices('${operation.deviceId}')/operations`, null, '/$entity');
    let lastSent = '';
    let ended = false;
    let unwatch = () => {};
    const heartbeat = setInterval(() => stream.write(': heartbeat\n\n'), limits.heartbeatMs);
    const end = () => {
      if (ended) return;
      ended = true;
      clearInterval(heartbeat);
      unwatch();
      countOut();
      open -= 1;
      stream.end();
    };
    const send = (next: Operation | null) => {
      if (ended) return;
      if (!next) return end();
      const text = JSON.stringify(entityBody(context, operationBody(next)));
      if (text !== lastSent) stream.write(`data: ${text}\n\n`);
      lastSent = text;
      if (terminalStatuses.includes(next.status)) end();
    };
    // The client hung up, or the response completed: either way the slot is free again.
    reply.raw.once('close', end);
    send(operation);
    if (!ended) unwatch = engine.watchOperation(operation, send);
    return reply
      .header('cache-control', 'no-cache')
      // Proxies such as nginx would otherwise hold events back to fill a buffer.
      .header('x-accel-buffering', 'no')
      .type('text/event-stream; charset=utf-8')
      .send(stream);
  });
}
