import { badRequest } from './errors.js';
import { isLoopbackHost } from './loopback-host.js';

/**
 * Change-notification subscriptions, Graph's `subscription` resource: what may be subscribed
 * to, the rules a request body must follow, and the notification a change becomes.
 */

export type ChangeType = 'created' | 'updated';
export const changeTypes: readonly ChangeType[] = ['created', 'updated'];

/** What a change event is about; each kind is one producer (a trigger on its table). */
export type ResourceKind = 'operation' | 'softwareRollout';

/** A subscribed resource: one device's operations, all the tenant's operations, or its rollouts. */
export interface SubscribedResource {
  /** as the API shows it, e.g. `teamwork/devices/{id}/operations` */
  resource: string;
  kind: ResourceKind;
  /** only this device's changes (one device's operations); null: all of the tenant's */
  deviceId: string | null;
}

/** Whether notifications are being delivered, or were given up on after the receiver kept failing. */
export type NotificationStatus = 'active' | 'suspended';

export interface Subscription {
  id: string;
  tenantId: string;
  resource: SubscribedResource;
  changeTypes: ChangeType[];
  notificationUrl: string;
  clientState: string | null;
  expirationDateTime: string;
  /** the application the creating token was issued to */
  applicationId: string;
  /** the user (delegated token) or application (app-only token) that created it */
  creatorId: string;
  createdDateTime: string;
  notificationStatus: NotificationStatus;
  /** failed deliveries since the last one that succeeded */
  consecutiveFailures: number;
  /** no delivery is tried before this (backoff after a failure); null: at once */
  nextAttemptDateTime: string | null;
  lastDeliveryDateTime: string | null;
  lastDeliveryError: string | null;
}

/** Longest a subscription may live, as Graph allows for many resources (about three days). */
export const maxSubscriptionMinutes = 4230;
/** Graph's limit on clientState. */
export const maxClientStateLength = 128;
export const maxNotificationUrlLength = 2048;
/** Subscriptions one tenant may hold: each is scanned on every change its tenant makes. */
export const maxSubscriptionsPerTenant = 100;

const deviceOperations = /^\/?teamwork\/devices\/([A-Za-z0-9._~-]{1,128})\/operations$/i;
const allOperations = /^\/?teamwork\/devices\/operations$/i;
const softwareRollouts = /^\/?teamwork\/softwareRollouts$/i;

/** Parses a `resource`: the three this service notifies about, else 400. */
export function parseResource(value: string): SubscribedResource {
  if (allOperations.test(value)) return { resource: 'teamwork/devices/operations', kind: 'operation', deviceId: null };
  const device = deviceOperations.exec(value);
  if (device) return { resource: `teamwork/devices/${device[1]}/operations`, kind: 'operation', deviceId: device[1] };
  if (softwareRollouts.test(value)) return { resource: 'teamwork/softwareRollouts', kind: 'softwareRollout', deviceId: null };
  throw badRequest(`Resource '${value.slice(0, 128)}' is not supported for change notifications; supported: teamwork/devices/{id}/operations, teamwork/devices/operations, teamwork/softwareRollouts.`);
}

/** Parses Graph's comma-separated `changeType` ("created", "updated", "created,updated"). */
export function parseChangeTypes(value: string): ChangeType[] {
  if (value.trim() === '') throw badRequest("'changeType' is required: a comma-separated list of created, updated.");
  const parts = value.split(',').map((part) => part.trim());
  const result: ChangeType[] = [];
  for (const part of parts) {
    if (!(changeTypes as readonly string[]).includes(part)) {
      throw badRequest(`ChangeType '${part.slice(0, 32)}' is not supported for this resource; supported: created, updated.`);
    }
    if (!result.includes(part as ChangeType)) result.push(part as ChangeType);
  }
  return changeTypes.filter((type) => result.includes(type));
}

/**
 * A notificationUrl: https, or plain http to a loopback address only (a receiver on the same
 * machine, as in development and tests), with no user name or password in it. Redirects are
 * never followed when delivering, so the URL checked here is the one that is called.
 */
export function parseNotificationUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw badRequest("'notificationUrl' must be an absolute URL.");
  }
  if (url.username || url.password) throw badRequest("'notificationUrl' must not contain a user name or password.");
  if (url.hash) throw badRequest("'notificationUrl' must not contain a fragment.");
  if (url.protocol === 'https:') return url.href;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return url.href;
  throw badRequest(`The Uri scheme '${url.protocol.replace(':', '').slice(0, 16)}' is not supported for 'notificationUrl': use https (plain http only to a loopback address).`);
}

/** An expirationDateTime (its form checked by the schema): after `now`, at most maxSubscriptionMinutes later. */
export function parseExpiration(value: string, now: number): string {
  const at = Date.parse(value);
  if (at <= now) throw badRequest('Subscription expiration must be in the future.');
  if (at > now + maxSubscriptionMinutes * 60_000) {
    throw badRequest(`Subscription expiration can only be ${maxSubscriptionMinutes} minutes in the future.`);
  }
  return new Date(at).toISOString();
}

export interface SubscriptionRequest {
  resource: SubscribedResource;
  changeTypes: ChangeType[];
  notificationUrl: string;
  clientState: string | null;
  expirationDateTime: string;
}

const expirationSchema = {
  type: 'string',
  format: 'date-time',
  description: `an ISO 8601 date and time with its offset, in the future, at most ${maxSubscriptionMinutes} minutes ahead`,
} as const;
const notificationUrlSchema = {
  type: 'string',
  maxLength: maxNotificationUrlLength,
  description: 'an absolute https URL (plain http only to a loopback address), without user name, password or fragment',
} as const;

/** Graph properties clients send that change nothing here (the SDKs' defaults): accepted, ignored. */
const ignoredProperties = {
  '@odata.type': { type: 'string' },
  latestSupportedTlsVersion: { type: ['string', 'null'] },
  notificationUrlAppId: { type: ['string', 'null'] },
  includeResourceData: { type: 'boolean', const: false, description: "false: notifications carry the resource's id and status, never its data" },
} as const;

/** The body of `POST /subscriptions`; the rules beyond it are parseSubscriptionRequest's. */
export const subscriptionRequestSchema = {
  title: 'microsoft.graph.subscription',
  type: 'object',
  required: ['changeType', 'resource', 'notificationUrl', 'expirationDateTime'],
  additionalProperties: false,
  properties: {
    changeType: { type: 'string', description: 'a comma-separated list of created, updated' },
    resource: { type: 'string', description: 'teamwork/devices/{id}/operations, teamwork/devices/operations or teamwork/softwareRollouts' },
    notificationUrl: notificationUrlSchema,
    clientState: { type: ['string', 'null'], maxLength: maxClientStateLength },
    expirationDateTime: expirationSchema,
    ...ignoredProperties,
  },
} as const;

/** The body of `PATCH /subscriptions/{id}`: a renewal and/or a new notificationUrl. */
export const subscriptionChangeSchema = {
  title: 'microsoft.graph.subscription',
  type: 'object',
  additionalProperties: false,
  properties: { expirationDateTime: expirationSchema, notificationUrl: notificationUrlSchema, ...ignoredProperties },
} as const;

/** A POST /subscriptions body as its schema admits it. */
export type SubscriptionBody = { changeType: string; resource: string; notificationUrl: string; clientState?: string | null; expirationDateTime: string };

/** A `POST /subscriptions` body, already checked against subscriptionRequestSchema, read with the rules it leaves out. */
export function parseSubscriptionRequest(body: SubscriptionBody, now: number): SubscriptionRequest {
  return {
    changeTypes: parseChangeTypes(body.changeType),
    resource: parseResource(body.resource),
    notificationUrl: parseNotificationUrl(body.notificationUrl),
    clientState: body.clientState ?? null,
    expirationDateTime: parseExpiration(body.expirationDateTime, now),
  };
}

export interface SubscriptionChange {
  expirationDateTime?: string;
  notificationUrl?: string;
}

/** A `PATCH /subscriptions/{id}` body, already checked against subscriptionChangeSchema. */
export function parseSubscriptionChange(body: SubscriptionChange, now: number): SubscriptionChange {
  const change: SubscriptionChange = {};
  if (body.expirationDateTime !== undefined) change.expirationDateTime = parseExpiration(body.expirationDateTime, now);
  if (body.notificationUrl !== undefined) change.notificationUrl = parseNotificationUrl(body.notificationUrl);
  if (Object.keys(change).length === 0) throw badRequest("Nothing to change: give 'expirationDateTime' and/or 'notificationUrl'.");
  return change;
}

/** A change as the store keeps it for a subscription, until it is delivered. */
export interface PendingNotification {
  seq: number;
  changeType: ChangeType;
  kind: ResourceKind;
  resourceId: string;
  deviceId: string | null;
  status: string | null;
  /** the operation's operationType (operations), else null */
  detailType: string | null;
}

/** One item of a notification's `value`, in Graph's changeNotification shape. */
export function changeNotification(subscription: Subscription, change: PendingNotification): Record<string, unknown> {
  const path = change.kind === 'operation'
    ? `teamwork/devices/${change.deviceId}/operations/${change.resourceId}`
    : `teamwork/softwareRollouts/${change.resourceId}`;
  const resourceData: Record<string, unknown> = {
    '@odata.type': change.kind === 'operation' ? '#microsoft.graph.teamworkDeviceOperation' : '#microsoft.graph.teamworkSoftwareRollout',
    '@odata.id': path,
    id: change.resourceId,
  };
  if (change.status !== null) resourceData.status = change.status;
  if (change.kind === 'operation') {
    resourceData.operationType = change.detailType;
    resourceData.deviceId = change.deviceId;
  }
  return {
    subscriptionId: subscription.id,
    subscriptionExpirationDateTime: subscription.expirationDateTime,
    changeType: change.changeType,
    resource: path,
    resourceData,
    clientState: subscription.clientState,
    tenantId: subscription.tenantId,
  };
}
