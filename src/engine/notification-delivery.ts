import { createHmac, randomBytes } from 'node:crypto';
import { linkedAbort } from '../domain/linked-abort.js';

/**
 * The HTTP side of change notifications: the validation handshake and the signed POST of a
 * batch. Every call has a timeout, follows no redirect (the checked notificationUrl is the only
 * address called: a redirect to an internal address would make the service a proxy into its
 * own network), and reads at most a few kilobytes of what the receiver answers.
 */

/** Graph gives a receiver 10 s to answer the validation request, and so do we. */
export const validationTimeoutMs = 10_000;
/** A notification POST not answered within this counts as a failed delivery. */
export const deliveryTimeoutMs = 10_000;
/** The most of a validation reply that is read: the token is 43 characters. */
const maxValidationReplyBytes = 1024;

/** The header receivers verify: `sha256=` and the hex HMAC-SHA256 of the raw body under the subscription's secret. */
export const signatureHeader = 'x-teamwork-signature';

export function signatureOf(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/** A new subscription's signing secret: 32 random bytes, base64url. */
export function newSigningSecret(): string {
  return randomBytes(32).toString('base64url');
}

export type DeliveryResult = { ok: true } | { ok: false; error: string };

/** What went wrong with a request, in a line for the subscription's lastDeliveryError. */
function describeFailure(error: unknown): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return 'no answer within the timeout';
  if (e.name === 'AbortError') return 'aborted';
  const cause = e.cause?.code ?? e.cause?.message;
  return cause ? `could not connect: ${cause}` : (e.message ?? 'request failed');
}

/** The reply's body as text, or null when it is longer than `max` bytes (only that much is read). */
async function readAtMost(response: Response, max: number): Promise<string | null> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Graph's validation handshake: POST `notificationUrl?validationToken=<token>` (text/plain);
 * the receiver must answer 200 with the token as its body. Null when it did, else the reason
 * (Graph's wording), for the 400 that refuses the subscription.
 */
export async function validateNotificationUrl(notificationUrl: string, timeoutMs = validationTimeoutMs): Promise<string | null> {
  const token = randomBytes(32).toString('base64url');
  const url = new URL(notificationUrl);
  url.searchParams.append('validationToken', token);
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=utf-8', 'user-agent': 'teamwork-devices-notifications' },
      body: '',
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    return `Subscription validation request failed: ${describeFailure(error)}. Notification endpoint must respond with 200 OK to validation request.`;
  }
  try {
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => {});
      return `Subscription validation request failed. HTTP status code is '${response.status}'. Notification endpoint must respond with 200 OK to validation request.`;
    }
    const text = await readAtMost(response, maxValidationReplyBytes);
    if (text !== token) return 'Subscription validation request failed. Response must exactly match validationToken query parameter.';
    return null;
  } catch (error) {
    return `Subscription validation request failed: ${describeFailure(error)}. Notification endpoint must respond with 200 OK to validation request.`;
  }
}

/**
 * POSTs one batch of notifications (the JSON `body`, signed); any 2xx is a delivery, anything
 * else (another status, a redirect, a timeout, no connection) a failure. The reply's body is
 * not read. `stop` aborts it when the engine stops (then it is neither a delivery nor a failure).
 */
export async function postNotifications(
  notificationUrl: string,
  body: string,
  secret: string,
  stop: AbortSignal,
  timeoutMs = deliveryTimeoutMs,
): Promise<DeliveryResult> {
  const abort = linkedAbort([stop], timeoutMs);
  try {
    const response = await fetch(notificationUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'user-agent': 'teamwork-devices-notifications',
        [signatureHeader]: signatureOf(secret, body),
      },
      body,
      redirect: 'manual',
      signal: abort.signal,
    });
    await response.body?.cancel().catch(() => {});
    if (response.status >= 200 && response.status < 300) return { ok: true };
    return { ok: false, error: `HTTP ${response.status}` };
  } catch (error) {
    return { ok: false, error: describeFailure(error) };
  } finally {
    abort.release();
  }
}
