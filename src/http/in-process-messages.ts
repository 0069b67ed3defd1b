import { EventEmitter } from 'node:events';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';

/**
 * A request and its response that never touch a socket: what `$batch` hands to Fastify's own
 * request handler (`app.routing`) for each of its requests, so they take the whole pipeline.
 * Fastify's `inject()` (light-my-request) does the same, but frames every reply as HTTP into a
 * socket stand-in and copies it out again: measured here at about three times the CPU of a real
 * HTTP request on a trivial route (60–70 µs against about 20 µs; these take under 10 µs), which
 * made a batch of reads dearer than the same reads sent one by one. These carry only what Fastify, its content-type parser and proxy-addr read (the
 * surface of node:http they use); the batch tests drive every kind of route through them.
 */

/** The peer of an in-process request: its address (the batch's client), never TLS. */
class InProcessSocket extends EventEmitter {
  readonly encrypted = false;

  constructor(readonly remoteAddress: string) {
    super();
  }
}

/** What a sub-request is made of: method, path with query, lower-case headers, payload. */
export interface InProcessRequestInit {
  method: string;
  path: string;
  headers: Record<string, string>;
  payload?: Buffer;
  remoteAddress: string;
}

/** A stand-in for http.IncomingMessage; `origin` is whatever the caller attaches (a batch request). */
export class InProcessRequest<Origin> extends Readable {
  readonly httpVersion = '1.1';
  readonly httpVersionMajor = 1;
  readonly httpVersionMinor = 1;
  readonly aborted = false;
  readonly complete = true;
  readonly method: string;
  /** Fastify rewrites it (`rewriteUrl`) */
  url: string;
  readonly headers: Record<string, string>;
  readonly rawHeaders: string[];
  readonly socket: InProcessSocket;
  private payload: Buffer | undefined;

  constructor(init: InProcessRequestInit, readonly origin: Origin) {
    super();
    this.method = init.method;
    this.url = init.path;
    this.payload = init.payload;
    // Fastify decides whether there is a body to parse from these, as for a socket's request.
    this.headers = { ...init.headers, ...(init.payload ? { 'content-length': String(init.payload.length) } : {}) };
    this.rawHeaders = Object.entries(this.headers).flat();
    this.socket = new InProcessSocket(init.remoteAddress);
  }

  /** node:http's deprecated name for the socket, which some libraries still read */
  get connection(): InProcessSocket {
    return this.socket;
  }

  override _read(): void {
    if (this.payload) this.push(this.payload);
    this.payload = undefined;
    this.push(null);
  }

  /** As http.IncomingMessage: usable where node:http's request type is expected. */
  asIncomingMessage(): IncomingMessage {
    return this as unknown as IncomingMessage;
  }
}

/** A finished in-process reply; header names in lower case, values as text. */
export interface InProcessReply {
  status: number;
  headers: Record<string, string>;
  payload: Buffer;
}

/**
 * A stand-in for http.ServerResponse that keeps the status, headers and body and hands them to
 * `done` at `end()`, after `finish` (which runs Fastify's onResponse hooks); a response
 * destroyed before its end goes to `failed` instead.
 */
export class InProcessResponse extends EventEmitter {
  statusCode = 200;
  statusMessage = '';
  headersSent = false;
  writableEnded = false;
  writableFinished = false;
  destroyed = false;
  private readonly fields: OutgoingHttpHeaders = {};
  private readonly chunks: Buffer[] = [];

  constructor(
    private readonly done: (reply: InProcessReply) => void,
    private readonly failed: (error: Error) => void,
  ) {
    super();
  }

  setHeader(name: string, value: number | string | readonly string[]): this {
    this.fields[name.toLowerCase()] = typeof value === 'object' ? [...value] : value;
    return this;
  }

  getHeader(name: string): number | string | string[] | undefined {
    return this.fields[name.toLowerCase()];
  }

  hasHeader(name: string): boolean {
    return this.fields[name.toLowerCase()] !== undefined;
  }

  removeHeader(name: string): void {
    delete this.fields[name.toLowerCase()];
  }

  getHeaders(): OutgoingHttpHeaders {
    return { ...this.fields };
  }

  /** `writeHead(status[, statusMessage][, headers])`, as node:http takes it. */
  writeHead(status: number, messageOrHeaders?: string | OutgoingHttpHeaders, headers?: OutgoingHttpHeaders): this {
    this.statusCode = status;
    const fields = typeof messageOrHeaders === 'string' ? headers : messageOrHeaders;
    if (typeof messageOrHeaders === 'string') this.statusMessage = messageOrHeaders;
    for (const [name, value] of Object.entries(fields ?? {})) if (value !== undefined) this.fields[name.toLowerCase()] = value;
    this.headersSent = true;
    return this;
  }

  write(chunk: string | Uint8Array, encoding?: BufferEncoding | (() => void), callback?: () => void): boolean {
    if (!this.headersSent) this.writeHead(this.statusCode);
    if (chunk !== null && chunk !== undefined && chunk.length > 0) {
      this.chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? encoding : 'utf8') : Buffer.from(chunk));
    }
    const then = typeof encoding === 'function' ? encoding : callback;
    then?.();
    return true;
  }

  end(chunk?: string | Uint8Array | null | (() => void), encoding?: BufferEncoding | null | (() => void), callback?: () => void): this {
    const then = [chunk, encoding, callback].find((arg): arg is () => void => typeof arg === 'function');
    if (this.writableEnded) return this;
    if (chunk !== null && chunk !== undefined && typeof chunk !== 'function') this.write(chunk, typeof encoding === 'string' ? encoding : undefined);
    if (!this.headersSent) this.writeHead(this.statusCode);
    this.writableEnded = true;
    this.writableFinished = true;
    this.emit('finish');
    this.done({ status: this.statusCode, headers: textHeaders(this.fields), payload: Buffer.concat(this.chunks) });
    then?.();
    this.emit('close');
    return this;
  }

  destroy(error?: Error): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    if (!this.writableEnded) this.failed(error ?? new Error('the response was destroyed before it ended'));
    this.emit('close');
    return this;
  }

  addTrailers(): void {
    // no trailers in a batch's answer
  }

  /** As http.ServerResponse: usable where node:http's response type is expected. */
  asServerResponse(): ServerResponse {
    return this as unknown as ServerResponse;
  }
}

function textHeaders(fields: OutgoingHttpHeaders): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return headers;
}
