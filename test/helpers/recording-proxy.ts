import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform } from 'node:stream';

/** A request as the proxy passed it on. */
export interface ProxiedRequest {
  method: string;
  path: string;
  range: string | null;
  ifRange: string | null;
  authorization: boolean;
  status: number;
  /** bytes of the response body the client was sent */
  bytes: number;
}

/**
 * An HTTP proxy in front of a server that records every request (what the server saw), and
 * sends artifact downloads no faster than `bytesPerSecond`, so a test can stop a device in
 * the middle of one. The rest passes unchanged.
 */
export class RecordingProxy {
  readonly requests: ProxiedRequest[] = [];
  url = '';
  private readonly server: http.Server;

  constructor(private readonly target: string, private readonly bytesPerSecond: number) {
    this.server = http.createServer((request, response) => this.forward(request, response));
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  /** The artifact requests seen so far. */
  downloads(): ProxiedRequest[] {
    return this.requests.filter((r) => r.path.startsWith('/agent/v1/artifacts/'));
  }

  private forward(request: http.IncomingMessage, response: http.ServerResponse): void {
    const target = new URL(request.url ?? '/', this.target);
    const record: ProxiedRequest = {
      method: request.method ?? 'GET',
      path: target.pathname,
      range: header(request.headers.range),
      ifRange: header(request.headers['if-range']),
      authorization: request.headers.authorization !== undefined,
      status: 0,
      bytes: 0,
    };
    this.requests.push(record);
    const upstream = http.request(target, { method: request.method, headers: { ...request.headers, host: target.host } }, (answer) => {
      record.status = answer.statusCode ?? 0;
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      const paced = record.path.startsWith('/agent/v1/artifacts/') ? pace(this.bytesPerSecond) : new Transform({ transform: (c, _e, done) => done(null, c) });
      paced.on('data', (chunk: Buffer) => (record.bytes += chunk.length));
      answer.pipe(paced).pipe(response);
      response.once('close', () => answer.destroy());
    });
    upstream.once('error', () => response.destroy());
    request.pipe(upstream);
  }
}

function header(value: string | string[] | undefined): string | null {
  return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
}

/** Lets bytes through at about `bytesPerSecond`, in pieces of at most 64 KiB. */
function pace(bytesPerSecond: number): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const pieces: Buffer[] = [];
      for (let offset = 0; offset < chunk.length; offset += 65536) pieces.push(chunk.subarray(offset, offset + 65536));
      const next = () => {
        const piece = pieces.shift();
        if (!piece) return done();
        this.push(piece);
        setTimeout(next, (piece.length / bytesPerSecond) * 1000);
      };
      next();
    },
  });
}
