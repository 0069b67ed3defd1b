import { isLoopbackHost } from './loopback-host.js';

/**
 * The file a version is installed from, as a catalog entry names it and an operation keeps it.
 * Its SHA-256 is its address: the service stores an uploaded file once by it, and the device
 * checks what it downloaded against it.
 */
export interface Artifact {
  /** lower-case hex */
  sha256: string;
  /** bytes, at least 1 */
  size: number;
  /** an external address devices download it from; null: stored by this service */
  url: string | null;
}

export const sha256Pattern = /^[0-9a-f]{64}$/;

/** Longest external artifact URL accepted: it goes into every work item of the version. */
const maxUrlLength = 2048;

/**
 * Why an external artifact reference cannot be handed to devices, or null. Plain http only to
 * a loopback host: anyone on the path of a remote http download could not make the device
 * install other bytes (the SHA-256 is checked), but could read what it installs.
 */
export function externalArtifactProblem(artifact: { url: string; sha256: string; size: number }): string | null {
  if (!sha256Pattern.test(artifact.sha256)) return 'the SHA-256 must be 64 lower-case hex digits';
  if (!Number.isSafeInteger(artifact.size) || artifact.size < 1) return 'the size must be a whole number of bytes, at least 1';
  if (artifact.url.length > maxUrlLength || !URL.canParse(artifact.url)) return `the URL must be an absolute URL of at most ${maxUrlLength} characters`;
  const url = new URL(artifact.url);
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return null;
  return 'the URL must be https (plain http only to 127.0.0.1, ::1 or localhost)';
}
