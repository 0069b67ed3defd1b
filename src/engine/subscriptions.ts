import { randomUUID } from 'node:crypto';
import { isoNow, type Clock } from '../domain/clock.js';
import { badRequest, notFound, ServiceError } from '../domain/errors.js';
import type { Caller } from '../domain/identity.js';
import {
  maxSubscriptionsPerTenant, parseSubscriptionChange, parseSubscriptionRequest, type SubscriptionBody, type SubscriptionChange,
} from '../domain/subscription.js';
import type { Store } from '../store/store.js';
import type { StoredSubscription } from '../store/subscription-store.js';
import { newSigningSecret, validateNotificationUrl } from './notification-delivery.js';

/**
 * Creating, renewing and deleting subscriptions. A notificationUrl is saved only after its
 * receiver passed the validation handshake, so nothing is saved for a URL that does not answer.
 */
export class Subscriptions {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  /** Validates the body and the receiver, then saves; the reply (only this one) shows the signing secret. */
  async create(caller: Caller, body: SubscriptionBody): Promise<StoredSubscription> {
    const request = parseSubscriptionRequest(body, this.clock.now());
    const { deviceId } = request.resource;
    if (deviceId !== null && !(await this.store.getDevice(caller.tenantId, deviceId))) {
      throw notFound(`The device '${deviceId}' does not exist.`);
    }
    await this.handshake(request.notificationUrl);
    const subscription: StoredSubscription = {
      id: randomUUID(),
      tenantId: caller.tenantId,
      resource: request.resource,
      changeTypes: request.changeTypes,
      notificationUrl: request.notificationUrl,
      clientState: request.clientState,
      expirationDateTime: request.expirationDateTime,
      applicationId: caller.appId,
      creatorId: caller.id,
      createdDateTime: isoNow(this.clock),
      notificationStatus: 'active',
      consecutiveFailures: 0,
      nextAttemptDateTime: null,
      lastDeliveryDateTime: null,
      lastDeliveryError: null,
      signingSecret: newSigningSecret(),
    };
    if (!(await this.store.subscriptions.create(subscription, maxSubscriptionsPerTenant))) {
      throw new ServiceError('accessDenied', `The tenant has reached its limit of ${maxSubscriptionsPerTenant} subscriptions.`);
    }
    return subscription;
  }

  list(caller: Caller): Promise<StoredSubscription[]> {
    return this.store.subscriptions.list(caller.tenantId);
  }

  async get(caller: Caller, id: string): Promise<StoredSubscription> {
    const subscription = await this.store.subscriptions.get(caller.tenantId, id);
    if (!subscription) throw notFound(`The subscription '${id.slice(0, 64)}' does not exist.`);
    return subscription;
  }

  /**
   * Renews (expirationDateTime) and/or moves (notificationUrl, handshake first) a subscription;
   * either makes a suspended one active again. `mayChangeAny`: the caller may change other
   * applications' subscriptions of its tenant (ReadWrite); otherwise only its application's.
   */
  async renew(caller: Caller, id: string, body: SubscriptionChange, mayChangeAny: boolean): Promise<StoredSubscription> {
    await this.changeable(caller, id, mayChangeAny);
    const change = parseSubscriptionChange(body, this.clock.now());
    if (change.notificationUrl !== undefined) await this.handshake(change.notificationUrl);
    const renewed = await this.store.subscriptions.renew(caller.tenantId, id, change);
    if (!renewed) throw notFound(`The subscription '${id.slice(0, 64)}' does not exist.`);
    return renewed;
  }

  async delete(caller: Caller, id: string, mayChangeAny: boolean): Promise<void> {
    await this.changeable(caller, id, mayChangeAny);
    if (!(await this.store.subscriptions.delete(caller.tenantId, id))) throw notFound(`The subscription '${id.slice(0, 64)}' does not exist.`);
  }

  private async changeable(caller: Caller, id: string, mayChangeAny: boolean): Promise<void> {
    const subscription = await this.get(caller, id);
    if (!mayChangeAny && subscription.applicationId !== caller.appId) {
      throw new ServiceError('accessDenied', "Only the application that created the subscription, or a caller with TeamworkDevice.ReadWrite.All, may change or delete it.");
    }
  }

  private async handshake(notificationUrl: string): Promise<void> {
    const failure = await validateNotificationUrl(notificationUrl);
    if (failure) throw badRequest(failure);
  }
}
