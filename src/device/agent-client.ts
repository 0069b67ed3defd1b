import {
  agentPaths, maxLongPollSeconds,
  type CredentialReply, type EnrollReply, type EnrollRequest, type InventoryBody, type InventoryReply, type ProgressBody, type ProgressReply, type ResultBody, type WorkReply,
} from '../domain/agent-protocol.js';
import { backoffMs, unseededRandom, type RandomSource } from '../seed/seeded-random.js';
import { linkedAbort } from '../domain/linked-abort.js';
import { abortableSleep } from './abortable-sleep.js';
import { fetchTransport, type AgentRequest, type AgentResponseHeaders, type AgentTransport } from './agent-transport.js';

/** One answer of the server, after any retries. */
export interface AgentReply<T> {
  status: number;
  /** the parsed body of a 2xx that has one, else null */
  body: T | null;
  /** the Graph error of a 4xx/5xx, when the body carries one */
  error: { code: string; message: string } | null;
  text: string;
  headers: AgentResponseHeaders;
  /** Retry-After in ms, stretched by up to half (see `retryAfterMs`), or null */
  retryAfterMs: number | null;
}

/** Which failures are tried again, and how often; connection errors and 408/429/5xx are. */
export interface RetryPolicy {
  /** attempts in all, the first included (Infinity: until the client's signal aborts) */
  attempts: number;
  /** the first backoff; each one after doubles, up to capMs, with "equal jitter" */
  baseMs: number;
  capMs: number;
}

export interface AgentClientOptions {
  /** base URL of the server, e.g. http://127.0.0.1:8080 */
  url: string;
  /** default: fetch */
  transport?: AgentTransport;
  /** the device credential, once enrolled; enroll() sets it */
  credential?: string | null;
  /** default: retry for ever (until `signal`), 250 ms doubling to 5 s; false: one attempt per call */
  retry?: Partial<RetryPolicy> | false;
  /** jitter of backoffs and Retry-After; seeded for replayable simulations */
  random?: RandomSource;
  /** aborts the request in flight and any backoff: the device is stopping */
  signal?: AbortSignal;
  /** per request, except the long-poll, which gets its wait plus 15 s */
  timeoutMs?: number;
  /** told before each retry: which attempt failed and why */
  onRetry?: (attempt: number, reason: string, path: string) => void;
}

export interface CallOptions {
  /** another credential for this call, or null for none */
  credential?: string | null;
  signal?: AbortSignal;
  timeoutMs?: number;
  headers?: Record<string, string>;
  /** override the client's policy for this call */
  retry?: Partial<RetryPolicy> | false;
}

/** A reply the caller cannot act on. */
export class AgentHttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: AgentReply<unknown>['error'],
    what: string,
  ) {
    super(`${what}: HTTP ${status}${error ? `: ${error.code} ${error.message}` : ''}`);
  }
}

const defaultRetry: RetryPolicy = { attempts: Number.POSITIVE_INFINITY, baseMs: 250, capMs: 5000 };
const longPollMarginMs = 15_000;
const maxRetryAfterSeconds = 60;

/**
 * The device side of the agent protocol (docs/agent-protocol.md) over HTTP: enroll, the
 * long-poll for work, ack, progress, result, inventory. Transient failures (connection
 * errors, 408, 429, 5xx) are retried with exponential backoff and jitter, or after the
 * server's Retry-After. The simulated fleet, the tests' agent and the bench's fleet all use
 * this client (and so will the real device agent); what they do with the replies is theirs.
 */
export class AgentClient {
  private readonly transport: AgentTransport;
  private readonly retry: RetryPolicy | false;
  private readonly random: RandomSource;
  private readonly signal: AbortSignal | undefined;
  private readonly timeoutMs: number;
  private readonly onRetry: AgentClientOptions['onRetry'];
  private _credential: string | null = null;
  /** `Bearer <credential>`, made once per credential rather than per request */
  private authorization: string | null = null;

  constructor(options: AgentClientOptions) {
    this.transport = options.transport ?? fetchTransport(options.url);
    this.retry = options.retry === false ? false : { ...defaultRetry, ...options.retry };
    this.random = options.random ?? unseededRandom;
    this.signal = options.signal;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.onRetry = options.onRetry;
    this.credential = options.credential ?? null;
  }

  get credential(): string | null {
    return this._credential;
  }

  set credential(value: string | null) {
    this._credential = value;
    this.authorization = value === null ? null : `Bearer ${value}`;
  }

  /** Enrolls; on 200/201 keeps the credential for the next calls. */
  async enroll(request: EnrollRequest, options: CallOptions = {}): Promise<AgentReply<EnrollReply>> {
    const reply = await this.send<EnrollReply>('POST', agentPaths.enroll, request, { credential: null, ...options });
    if (reply.body && (reply.status === 200 || reply.status === 201)) this.credential = reply.body.credential;
    return reply;
  }

  /** Replaces the credential; on 200 keeps the new one (the old one keeps working for the server's grace period). */
  async rotateCredential(options: CallOptions = {}): Promise<AgentReply<CredentialReply>> {
    const reply = await this.send<CredentialReply>('POST', agentPaths.credential, undefined, options);
    if (reply.body && reply.status === 200) this.credential = reply.body.credential;
    return reply;
  }

  /** The long-poll: 200 with the device's next operation, or 204 after `waitSeconds` with nothing. */
  poll(waitSeconds: number = maxLongPollSeconds, options: CallOptions = {}): Promise<AgentReply<WorkReply>> {
    return this.send<WorkReply>('GET', `${agentPaths.work}?waitSeconds=${waitSeconds}`, undefined, options, waitSeconds * 1000 + longPollMarginMs);
  }

  ack(operationId: string, options: CallOptions = {}): Promise<AgentReply<WorkReply>> {
    return this.send<WorkReply>('POST', agentPaths.ack(operationId), undefined, options);
  }

  progress(operationId: string, body: ProgressBody, options: CallOptions = {}): Promise<AgentReply<ProgressReply>> {
    return this.send<ProgressReply>('POST', agentPaths.progress(operationId), body, options);
  }

  result(operationId: string, body: ResultBody, options: CallOptions = {}): Promise<AgentReply<WorkReply>> {
    return this.send<WorkReply>('POST', agentPaths.result(operationId), body, options);
  }

  inventory(body: InventoryBody, options: CallOptions = {}): Promise<AgentReply<InventoryReply>> {
    return this.send<InventoryReply>('POST', agentPaths.inventory, body, options);
  }

  /**
   * Any request, with the device credential unless told otherwise; a string body is sent as
   * it is (tests send malformed ones). Retries as the policy says; the last reply is returned
   * whatever its status, and the last error is thrown once attempts run out or on abort.
   */
  send<T = unknown>(method: string, path: string, body?: unknown, options: CallOptions = {}, defaultTimeoutMs = this.timeoutMs): Promise<AgentReply<T>> {
    const headers: Record<string, string> = options.headers ? { accept: 'application/json', ...options.headers } : { accept: 'application/json' };
    const authorization = options.credential === undefined ? this.authorization : options.credential === null ? null : `Bearer ${options.credential}`;
    if (authorization !== null) headers.authorization = authorization;
    const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    if (text !== undefined) headers['content-type'] ??= 'application/json';
    const linked = options.signal && this.signal ? linkedAbort([options.signal, this.signal]) : null;
    const signal = linked?.signal ?? options.signal ?? this.signal;
    const retry = options.retry === undefined ? this.retry : options.retry === false ? false : { ...defaultRetry, ...options.retry };
    const exchanged = this.exchange<T>({ method, path, headers, body: text, timeoutMs: options.timeoutMs ?? defaultTimeoutMs, signal }, retry);
    return linked ? exchanged.finally(linked.release) : exchanged;
  }

  /** One request, tried again while the policy allows; kept apart from send() so a waiting long-poll holds little. */
  private async exchange<T>(request: AgentRequest, retry: RetryPolicy | false): Promise<AgentReply<T>> {
    for (let attempt = 1; ; attempt++) {
      let reason: string;
      let waitMs: number;
      try {
        const reply = this.reply<T>(await this.transport(request));
        if (!retry || !isTransient(reply.status) || attempt >= retry.attempts) return reply;
        reason = `HTTP ${reply.status}`;
        waitMs = reply.retryAfterMs ?? backoffMs(attempt, this.random, retry.baseMs, retry.capMs);
      } catch (error) {
        if (!retry || request.signal?.aborted || attempt >= retry.attempts) throw error;
        reason = describeError(error);
        waitMs = backoffMs(attempt, this.random, retry.baseMs, retry.capMs);
      }
      this.onRetry?.(attempt, reason, request.path);
      await abortableSleep(waitMs, request.signal);
      request.signal?.throwIfAborted();
    }
  }

  private reply<T>(response: { status: number; text: string; headers: AgentResponseHeaders }): AgentReply<T> {
    const { status, text, headers } = response;
    let body: T | null = null;
    let error: AgentReply<T>['error'] = null;
    if (text) {
      if (status < 300) body = parseJson(text) as T | null;
      else error = (parseJson(text) as { error?: { code: string; message: string } } | null)?.error ?? null;
    }
    return { status, body, error, text, headers, retryAfterMs: this.retryAfterMs(headers['retry-after']) };
  }

  /**
   * Retry-After, stretched by up to half, so that thousands of devices told "1 s" at once do
   * not all come back in the same millisecond; capped at a minute.
   */
  private retryAfterMs(header: string | string[] | undefined): number | null {
    const seconds = Number(Array.isArray(header) ? header[0] : header);
    if (!(seconds > 0)) return null;
    return Math.min(maxRetryAfterSeconds, seconds) * 1000 * (1 + this.random.next() / 2);
  }
}

/** Statuses worth asking again: the server is busy, starting, or failed this once. */
function isTransient(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

/** The reason of a failed request, short enough for a log line (ECONNREFUSED rather than "fetch failed"). */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return (error as NodeJS.ErrnoException).code ?? cause?.code ?? cause?.message ?? error.message;
}

/** `: code message` of a reply's Graph error, for log lines. */
export function errorText(reply: { error: AgentReply<unknown>['error'] }): string {
  return reply.error ? `: ${reply.error.code} ${reply.error.message ?? ''}`.trimEnd() : '';
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
