import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sha256Pattern } from '../domain/artifact.js';
import { ContentDigest, type ArtifactContent, type ArtifactStore, type StoredArtifact } from './artifact-store.js';
import type { SqlDriver } from './sql-driver.js';

/**
 * Bytes per chunk row: one chunk is what an upload or a download holds in memory at a time,
 * and each is one short statement (far within the 5 s statement limit).
 */
const chunkBytes = 1024 * 1024;
/** An upload a killed process left behind is removed by a later upload after this long. */
const abandonedAfterMs = 24 * 3600_000;

/**
 * Artifacts in the database itself, for PostgreSQL replicas that share no directory: each file
 * is rows of `artifact_chunks` under an upload id, and becomes visible when one row of
 * `artifact_blobs` names it by its SHA-256. Uploads and downloads stream a chunk at a time.
 */
export class ChunkArtifacts implements ArtifactStore {
  constructor(private readonly sql: SqlDriver) {}

  async put(content: Readable): Promise<StoredArtifact> {
    await this.removeAbandoned();
    // Upload ids start with their time, so abandoned ones are a range of the chunks' key.
    const uploadId = `${new Date().toISOString()}/${randomUUID()}`;
    const digest = new ContentDigest();
    let n = 0;
    try {
      await pipeline(content, digest, async (source: AsyncIterable<Buffer>) => {
        const chunk = Buffer.allocUnsafe(chunkBytes);
        let filled = 0;
        const write = async () => {
          await this.sql.query('INSERT INTO artifact_chunks (upload_id, n, data) VALUES (?, ?, ?)', [uploadId, n++, chunk.subarray(0, filled)]);
          filled = 0;
        };
        for await (const piece of source) {
          for (let offset = 0; offset < piece.length;) {
            const copied = piece.copy(chunk, filled, offset);
            filled += copied;
            offset += copied;
            if (filled === chunkBytes) await write();
          }
        }
        if (filled > 0) await write();
      });
      const sha256 = digest.sha256();
      const named = await this.sql.query(
        `INSERT INTO artifact_blobs (sha256, size, upload_id, chunk_bytes, created_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT DO NOTHING RETURNING sha256`,
        [sha256, digest.size, uploadId, chunkBytes, new Date().toISOString()],
      );
      // Stored before (by another upload of the same bytes): that copy stays, this one goes.
      if (named.length === 0) await this.removeUpload(uploadId);
      return { sha256, size: digest.size };
    } catch (error) {
      await this.removeUpload(uploadId).catch(() => {});
      throw error;
    }
  }

  async open(sha256: string): Promise<ArtifactContent | null> {
    if (!sha256Pattern.test(sha256)) return null;
    const [blob] = await this.sql.query<{ size: number | string; upload_id: string; chunk_bytes: number | string }>(
      'SELECT size, upload_id, chunk_bytes FROM artifact_blobs WHERE sha256 = ?', [sha256],
    );
    if (!blob) return null;
    return { size: Number(blob.size), read: (start, end) => this.chunkStream(blob.upload_id, Number(blob.chunk_bytes), start, end) };
  }

  /** The bytes start..end, one chunk read when the reader wants more (backpressure). */
  private chunkStream(uploadId: string, bytesPerChunk: number, start: number, end: number): Readable {
    let position = start;
    const sql = this.sql;
    return new Readable({
      // One chunk ahead at most: what the socket has not taken yet stays in the database.
      highWaterMark: 1,
      async read() {
        if (position > end) {
          this.push(null);
          return;
        }
        try {
          const n = Math.floor(position / bytesPerChunk);
          // A bytea arrives as hex text twice its size, briefly: pg decodes every result value as UTF-8, so not in binary form.
          const [row] = await sql.query<{ data: Buffer }>('SELECT data FROM artifact_chunks WHERE upload_id = ? AND n = ?', [uploadId, n], 'artifact-chunk');
          const data = row?.data;
          const from = position - n * bytesPerChunk;
          const to = Math.min(data?.length ?? 0, end - n * bytesPerChunk + 1);
          if (!data || to <= from) throw new Error(`artifact chunk ${n} of upload ${uploadId} is missing or short`);
          position = n * bytesPerChunk + to;
          this.push(data.subarray(from, to));
        } catch (error) {
          this.destroy(error as Error);
        }
      },
    });
  }

  private async removeUpload(uploadId: string): Promise<void> {
    await this.sql.query('DELETE FROM artifact_chunks WHERE upload_id = ?', [uploadId]);
  }

  /** Chunks of uploads that never completed (the uploading process was killed), once a day old. */
  private async removeAbandoned(): Promise<void> {
    const cutoff = new Date(Date.now() - abandonedAfterMs).toISOString();
    await this.sql.query(
      'DELETE FROM artifact_chunks WHERE upload_id < ? AND upload_id NOT IN (SELECT upload_id FROM artifact_blobs)', [cutoff],
    );
  }
}
