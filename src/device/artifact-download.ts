import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ArtifactRef } from '../domain/agent-protocol.js';
import { backoffMs, unseededRandom } from '../seed/seeded-random.js';
import { abortableSleep } from './abortable-sleep.js';

export type DownloadOutcome =
  | { kind: 'ready'; path: string }
  | { kind: 'corrupt'; message: string }
  | { kind: 'stopped' };

export interface DownloadOptions {
  /** the server's base URL: an artifact path is fetched from it with the credential */
  serverUrl: string;
  credential: string | null;
  /** where downloads are kept (the state dir's): a partial file survives the agent and resumes */
  dir: string;
  signal: AbortSignal;
  /** bytes on disk so far, of the artifact's size */
  onProgress?: (bytes: number, size: number) => void;
  log: (message: string) => void;
}

/**
 * Downloads an artifact into `dir`, resuming a partial file with `Range` (guarded by
 * `If-Range` on the artifact's ETag, so a changed file starts over), retrying with backoff
 * while the server is unreachable, then checks its size and SHA-256. A file that does not
 * match is deleted and reported corrupt. Streams to disk: an artifact of any size costs the
 * agent little memory.
 */
export async function downloadArtifact(artifact: ArtifactRef, options: DownloadOptions): Promise<DownloadOutcome> {
  const final = join(options.dir, artifact.sha256);
  if (sizeOf(final) === artifact.size && (await sha256Of(final)) === artifact.sha256) return { kind: 'ready', path: final };
  const partial = `${final}.part`;
  const server = new URL(options.serverUrl);
  const url = new URL(artifact.url, server);
  const headers: Record<string, string> = {};
  // The credential goes to this server only, never to an external address.
  if (url.origin === server.origin && options.credential) headers.authorization = `Bearer ${options.credential}`;
  for (let attempt = 1; !options.signal.aborted; attempt++) {
    const have = sizeOf(partial) ?? 0;
    if (have >= artifact.size) break;
    try {
      const response = await fetch(url, {
        headers: have > 0 ? { ...headers, range: `bytes=${have}-`, 'if-range': `"${artifact.sha256}"` } : headers,
        signal: options.signal,
      });
      if (response.status === 416) {
        // The partial file is longer than the artifact (the stored copy changed): start over.
        await response.body?.cancel();
        rmSync(partial, { force: true });
        continue;
      }
      if (response.status !== 200 && response.status !== 206) {
        await response.body?.cancel();
        if (response.status === 404 || response.status === 403 || response.status === 401) {
          return { kind: 'corrupt', message: `The artifact ${artifact.sha256} could not be downloaded (${response.status}).` };
        }
        throw new Error(`status ${response.status}`);
      }
      const append = response.status === 206;
      await pipeline(Readable.fromWeb(response.body! as never), byteCounter(append ? have : 0, artifact.size, options.onProgress), createWriteStream(partial, { flags: append ? 'a' : 'w', mode: 0o600 }), { signal: options.signal });
      break;
    } catch (error) {
      if (options.signal.aborted) return { kind: 'stopped' };
      if (attempt === 1 || attempt % 10 === 0) options.log(`download of ${artifact.sha256} interrupted (${(error as Error).message}); resuming`);
      await abortableSleep(backoffMs(attempt, unseededRandom), options.signal);
    }
  }
  if (options.signal.aborted) return { kind: 'stopped' };
  const size = sizeOf(partial) ?? 0;
  const sha256 = size === artifact.size ? await sha256Of(partial) : null;
  if (sha256 !== artifact.sha256) {
    rmSync(partial, { force: true });
    const found = size === artifact.size ? `SHA-256 ${sha256}` : `${size} bytes`;
    return { kind: 'corrupt', message: `The artifact does not match its catalog entry: expected ${artifact.size} bytes with SHA-256 ${artifact.sha256}, got ${found}.` };
  }
  renameSync(partial, final);
  return { kind: 'ready', path: final };
}

/** Passes bytes through, telling `onProgress` at most every 1 % or so, not per chunk. */
function byteCounter(start: number, size: number, onProgress?: (bytes: number, size: number) => void): Transform {
  let bytes = start;
  let told = start;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      if (onProgress && bytes - told >= size / 100) {
        told = bytes;
        onProgress(bytes, size);
      }
      done(null, chunk);
    },
  });
}

function sizeOf(path: string): number | null {
  try {
    return statSync(path).size;
  } catch {
    return null;
  }
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}
