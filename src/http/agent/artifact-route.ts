import { Readable, Transform, pipeline } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { agentPaths } from '../../domain/agent-protocol.js';
import { notFound, ServiceError } from '../../domain/errors.js';
import type { Engine } from '../../engine/engine.js';
import { requestedRange } from '../byte-ranges.js';
import type { DeviceCaller } from '../device-credentials.js';
import type { RouteTable } from '../route-table.js';
import type { AgentThrottle } from './agent-limits.js';

/**
 * `GET /agent/v1/artifacts/{sha256}`: an artifact of the device's own tenant's catalog (any
 * other is a 404, as another tenant's device is), whole or from where an interrupted download
 * stopped (`Range`, guarded by `If-Range` on the ETag, which is the SHA-256). Streamed from
 * the store with backpressure, so a file of any size costs the server a buffer or a chunk per
 * download, never the file. Each download is one log line when it ends: operators (and the
 * bench) see what was served to whom, and whether it completed.
 */
export function addArtifactRoute(routes: RouteTable, engine: Engine, throttle: AgentThrottle, deviceOf: (request: FastifyRequest) => DeviceCaller): void {
  routes.add('GET', [agentPaths.artifact(':sha256')], 'device', async (request, reply) => {
    const { tenantId, deviceId } = deviceOf(request);
    const { sha256 } = request.params as { sha256: string };
    const artifact = await engine.artifact(tenantId, sha256);
    if (!artifact) throw notFound(`The artifact '${sha256.slice(0, 64)}' does not exist.`);
    const etag = `"${sha256}"`;
    reply.header('etag', etag).header('accept-ranges', 'bytes');
    const range = requestedRange(oneHeader(request.headers.range), oneHeader(request.headers['if-range']), etag, artifact.size);
    if (range.kind === 'unsatisfiable') {
      throw new ServiceError('rangeNotSatisfiable', `The artifact has ${artifact.size} bytes; the range asked for starts past its end.`, {
        'content-range': `bytes */${artifact.size}`,
      });
    }
    const [start, end] = range.kind === 'part' ? [range.start, range.end] : [0, artifact.size - 1];
    const status = range.kind === 'part' ? 206 : 200;
    reply.code(status).type('application/octet-stream').header('content-length', String(end - start + 1));
    if (range.kind === 'part') reply.header('content-range', `bytes ${start}-${end}/${artifact.size}`);
    // Fastify discards a HEAD reply's stream by reading it to the end: an empty one reads nothing.
    if (request.method === 'HEAD') return reply.send(Readable.from([]));

    const closeDownload = throttle.openDownload(deviceId);
    const startedAt = Date.now();
    const sent = new ByteCounter();
    pipeline(artifact.read(start, end), sent, (error) => {
      // A device that hangs up is no failure. A read that fails cuts the response short; the
      // device resumes from what it has.
      if (error && (error as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') {
        request.log.warn({ err: error, deviceId, sha256 }, 'artifact read failed');
      }
    });
    reply.raw.once('close', () => {
      closeDownload();
      request.log.info({
        deviceId, sha256, status, start, bytes: sent.bytes, complete: reply.raw.writableFinished, ms: Date.now() - startedAt,
      }, 'artifact download');
    });
    return reply.send(sent);
  });
}

/** A header sent twice arrives joined by commas, which no single range or tag parses as. */
function oneHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Counts the bytes that pass through (on their way to the socket: a cut download may not have delivered the last of them). */
class ByteCounter extends Transform {
  bytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    done(null, chunk);
  }
}
