import type { FastifyRequest } from 'fastify';
import { permits } from '../../auth/permissions.js';
import { subscriptionChangeSchema, subscriptionRequestSchema, type Subscription, type SubscriptionBody, type SubscriptionChange } from '../../domain/subscription.js';
import type { Engine } from '../../engine/engine.js';
import { callerOf } from '../request-caller.js';
import type { RouteTable } from '../route-table.js';
import { sendJson } from './graph-replies.js';
import { contextUrl, entityBody } from './odata-envelope.js';

/**
 * Change-notification subscriptions, Graph's `/subscriptions` (an extension here: Graph has
 * no notifications for Teams devices). Reading a resource's changes needs the permission to
 * read it; changing or deleting a subscription needs to be its application, or ReadWrite.
 * Another tenant's subscription is a 404.
 */
export function addSubscriptionRoutes(routes: RouteTable, engine: Engine): void {
  const idOf = (request: FastifyRequest) => (request.params as { subscriptionId: string }).subscriptionId;
  const entity = (request: FastifyRequest, body: Record<string, unknown>) =>
    entityBody(contextUrl(request, 'subscriptions', null, '/$entity'), body);

  routes.add('POST', ['/subscriptions'], 'read', async (request, reply) => {
    const subscription = await engine.createSubscription(callerOf(request), request.body as SubscriptionBody);
    // The signing secret is in this reply only; GET never shows it.
    const body = { ...subscriptionBody(subscription), signingSecret: subscription.signingSecret };
    return sendJson(reply.code(201), entity(request, body));
  }, { body: subscriptionRequestSchema });

  routes.add('GET', ['/subscriptions'], 'read', async (request, reply) => {
    const subscriptions = await engine.listSubscriptions(callerOf(request));
    return sendJson(reply, { '@odata.context': contextUrl(request, 'subscriptions', null), value: subscriptions.map(subscriptionBody) });
  });

  routes.add('GET', ['/subscriptions/:subscriptionId'], 'read', async (request, reply) => {
    return sendJson(reply, entity(request, subscriptionBody(await engine.getSubscription(callerOf(request), idOf(request)))));
  });

  routes.add('PATCH', ['/subscriptions/:subscriptionId'], 'read', async (request, reply) => {
    const caller = callerOf(request);
    const renewed = await engine.renewSubscription(caller, idOf(request), request.body as SubscriptionChange, permits(caller.permissions, 'write'));
    return sendJson(reply, entity(request, subscriptionBody(renewed)));
  }, { body: subscriptionChangeSchema });

  routes.add('DELETE', ['/subscriptions/:subscriptionId'], 'read', async (request, reply) => {
    const caller = callerOf(request);
    await engine.deleteSubscription(caller, idOf(request), permits(caller.permissions, 'write'));
    return reply.code(204).send();
  });
}

/** A subscription as Graph shows it, with this service's delivery state beside (notificationStatus, lastDelivery*). */
export function subscriptionBody(s: Subscription): Record<string, unknown> {
  return {
    id: s.id,
    resource: s.resource.resource,
    changeType: s.changeTypes.join(','),
    notificationUrl: s.notificationUrl,
    clientState: s.clientState,
    expirationDateTime: s.expirationDateTime,
    applicationId: s.applicationId,
    creatorId: s.creatorId,
    includeResourceData: false,
    notificationStatus: s.notificationStatus,
    lastDeliveryDateTime: s.lastDeliveryDateTime,
    lastDeliveryError: s.lastDeliveryError,
  };
}
