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
export function parseResource(value: unknown): SubscribedResource {
  if (typeof value !== 'string') throw badRequest("'resource' is required and must be a string.");
  if (allOperations.test(value)) return { resource: 'teamwork/devices/operations', kind: 'operation', deviceId: null };
  const device = deviceOperations.exec(value);
  if (device) return { resource: `teamwork/devices/${device[1]}/operations`, kind: 'operation', deviceId: device[1] };
  if (softwareRollouts.test(value)) return { resource: 'teamwork/softwareRollouts', kind: 'softwareRollout', deviceId: null };
  throw badRequest(`Resource '${value.slice(0, 128)}' is not supported for change notifications; supported: teamwork/devices/{id}/operations, teamwork/devices/operations, teamwork/softwareRollouts.`);
}

/** Parses Graph's comma-separated `changeType` ("created", "updated", "created,updated"). */
export function parseChangeTypes(value: unknown): ChangeType[] {
  if (typeof value !== 'string' || value.trim() === '') throw badRequest("'changeType' is required: a comma-separated list of created, updated.");
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
export function parseNotificationUrl(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw badRequest("'notificationUrl' is required and must be a string.");
  if (value.length > maxNotificationUrlLength) throw badRequest(`'notificationUrl' must be at most ${maxNotificationUrlLength} characters.`);
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

/** An expirationDateTime: after `now`, at most maxSubscriptionMinutes later. */
export function parseExpiration(value: unknown, now: number): string {
  const at = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(at)) throw badRequest("'expirationDateTime' is required: an ISO 8601 date and time.");
  if (at <= now) throw badRequest('Subscription expiration must be in the future.');
  if (at > now + maxSubscriptionMinutes * 60_000) {
    throw badRequest(`Subscription expiration can only be ${maxSubscriptionMinutes} minutes in the future.`);
  }
  return new Date(at).toISOString();
}

export function parseClientState(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length > maxClientStateLength) {
    throw badRequest(`'clientState' must be a string of at most ${maxClientStateLength} characters.`);
  }
  return value;
}

export interface SubscriptionRequest {
  resource: SubscribedResource;
  changeTypes: ChangeType[];
  notificationUrl: string;
  clientState: string | null;
  expirationDateTime: string;
}

/** Graph properties clients send that change nothing here (the SDKs' defaults). */
const ignoredProperties = new Set(['@odata.type', 'latestSupportedTlsVersion', 'includeResourceData', 'notificationUrlAppId']);

function objectBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('The body must be a JSON object.');
  return body as Record<string, unknown>;
}

function refuseUnknown(body: Record<string, unknown>, known: string[]): void {
  const unknown = Object.keys(body).filter((key) => !known.includes(key) && !ignoredProperties.has(key));
  if (unknown.length) throw badRequest(`Unsupported properties: ${unknown.slice(0, 8).map((k) => `'${k.slice(0, 64)}'`).join(', ')}.`);
  if (body.includeResourceData === true) throw badRequest("'includeResourceData' is not supported: notifications carry the resource's id and status.");
}

/** The body of `POST /subscriptions`. */
export function parseSubscriptionRequest(body: unknown, now: number): SubscriptionRequest {
  const o = objectBody(body);
  refuseUnknown(o, ['changeType', 'resource', 'notificationUrl', 'clientState', 'expirationDateTime']);
  return {
    changeTypes: parseChangeTypes(o.changeType),
    resource: parseResource(o.resource),
    notificationUrl: parseNotificationUrl(o.notificationUrl),
    clientState: parseClientState(o.clientState),
    expirationDateTime: parseExpiration(o.expirationDateTime, now),
  };
}

export interface SubscriptionChange {
  expirationDateTime?: string;
  notificationUrl?: string;
}

/** The body of `PATCH /subscriptions/{id}`: a renewal (expirationDateTime) and/or a new notificationUrl. */
export function parseSubscriptionChange(body: unknown, now: number): SubscriptionChange {
  const o = objectBody(body);
  refuseUnknown(o, ['expirationDateTime', 'notificationUrl']);
  const change: SubscriptionChange = {};
  if (o.expirationDateTime !== undefined) change.expirationDateTime = parseExpiration(o.expirationDateTime, now);
  if (o.notificationUrl !== undefined) change.notificationUrl = parseNotificationUrl(o.notificationUrl);
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
