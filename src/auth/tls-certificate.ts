import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export interface TlsFiles {
  key: Buffer;
  cert: Buffer;
}

export function readTlsFiles(certPath: string, keyPath: string): TlsFiles {
  return { cert: readFileSync(certPath), key: readFileSync(keyPath) };
}

/**
 * A self-signed certificate for localhost and 127.0.0.1, made once and kept next to the
 * database so clients can pin it. Microsoft's Graph SDKs only send tokens over https.
 */
export function localTlsCertificate(dbPath: string): TlsFiles {
  const dir = join(dbPath.includes('://') ? resolve('./data') : dirname(resolve(dbPath)), 'tls');
  const certPath = join(dir, 'localhost.crt');
  const keyPath = join(dir, 'localhost.key');
  if (!existsSync(certPath) || !existsSync(keyPath)) {
    // The key is a secret: only the service's user may read it.
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // openssl is part of every Debian/Ubuntu/macOS install; Node has no certificate writer.
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyPath, '-out', certPath, '-days', '825', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
    ], { stdio: 'ignore' });
    chmodSync(keyPath, 0o600);
  }
  return readTlsFiles(certPath, keyPath);
}
