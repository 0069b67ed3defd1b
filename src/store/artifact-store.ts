import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';

/** What was stored: the content's address and length. */
export interface StoredArtifact {
  sha256: string;
  size: number;
}

/** A stored artifact, ready to be streamed whole or in part. */
export interface ArtifactContent {
  size: number;
  /** bytes `start` to `end`, both included (0 ≤ start ≤ end < size), streamed: never the whole file in memory */
  read(start: number, end: number): Readable;
}

/**
 * Where uploaded artifacts live, content-addressed by SHA-256: files in a directory (SQLite's
 * data directory, or `--artifact-dir` that replicas share; artifact-files.ts) or chunks in
 * the database (PostgreSQL; artifact-chunks.ts). The store chooses one when it opens; nothing
 * above the store knows which.
 */
export interface ArtifactStore {
  /**
   * Streams `content` in, hashing it on the way, and keeps it once under its SHA-256 (putting
   * the same bytes again changes nothing). Visible to `open` only once complete.
   */
  put(content: Readable): Promise<StoredArtifact>;
  /** The stored artifact of this SHA-256; null when there is none. */
  open(sha256: string): Promise<ArtifactContent | null>;
}

/** Hashes and counts what passes through, unchanged. */
export class ContentDigest extends Transform {
  private readonly hash = createHash('sha256');
  size = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null, data?: Buffer) => void): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    done(null, chunk);
  }

  /** The hex SHA-256 of everything that passed; call once, after the end. */
  sha256(): string {
    return this.hash.digest('hex');
  }
}
