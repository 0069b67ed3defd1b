import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sha256Pattern } from '../domain/artifact.js';
import { ContentDigest, type ArtifactContent, type ArtifactStore, type StoredArtifact } from './artifact-store.js';

/** An upload a killed process left behind is removed by a later upload after this long. */
const abandonedAfterMs = 24 * 3600_000;
const incomingPrefix = '.incoming-';

/**
 * Artifacts as files named by their SHA-256 in one directory (0700, files 0600): SQLite's data
 * directory, or `--artifact-dir`, which PostgreSQL replicas share. An upload is written to a
 * temporary file, flushed to disk, then renamed to its SHA-256, so a file under that name is
 * always whole, on every replica that sees the directory.
 */
export class FileArtifacts implements ArtifactStore {
  constructor(private readonly dir: string) {}

  async put(content: Readable): Promise<StoredArtifact> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await this.removeAbandoned();
    const incoming = join(this.dir, `${incomingPrefix}${randomUUID()}`);
    const digest = new ContentDigest();
    try {
      const file = await open(incoming, 'wx', 0o600);
      try {
        await pipeline(content, digest, async (source: AsyncIterable<Buffer>) => {
          for await (const chunk of source) await file.write(chunk);
        });
        await file.sync();
      } finally {
        await file.close();
      }
      const sha256 = digest.sha256();
      // The same bytes stored before are replaced by themselves; readers keep the file they opened.
      await rename(incoming, join(this.dir, sha256));
      await syncDirectory(this.dir);
      return { sha256, size: digest.size };
    } catch (error) {
      await rm(incoming, { force: true });
      throw error;
    }
  }

  async open(sha256: string): Promise<ArtifactContent | null> {
    // The pattern keeps the name a plain file name in this directory, whatever the caller passed.
    if (!sha256Pattern.test(sha256)) return null;
    const path = join(this.dir, sha256);
    let size: number;
    try {
      const found = await stat(path);
      if (!found.isFile()) return null;
      size = found.size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    return { size, read: (start, end) => createReadStream(path, { start, end }) };
  }

  private async removeAbandoned(): Promise<void> {
    const cutoff = Date.now() - abandonedAfterMs;
    for (const name of await readdir(this.dir)) {
      if (!name.startsWith(incomingPrefix)) continue;
      const path = join(this.dir, name);
      const found = await stat(path).catch(() => null);
      if (found && found.mtimeMs < cutoff) await rm(path, { force: true });
    }
  }
}

/** Makes a rename in `dir` survive a power cut. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
