/**
 * Configuration of `serve`: one validated object, resolved once at start-up.
 * Precedence: command-line flag → environment variable → default (see README "Configuration").
 */
export interface ServeConfig {
  port: number;
  host: string;
  /** SQLite file path (postgres:// URLs come with the PostgreSQL store) */
  db: string;
  /** tenant of the demo data and of the token printed at start */
  tenant: string;
  /** seed this many demo devices when the tenant has none */
  demoDevices: number;
  tls: boolean;
  tlsCert: string | null;
  tlsKey: string | null;
  /** production identity provider; when all three are unset the dev issuer is used */
  issuer: string | null;
  audience: string | null;
  jwksUrl: string | null;
  bodyLimitBytes: number;
  logLevel: string;
}

export const demoTenant = '6d1a2c3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
export const defaultDbPath = './data/teamwork-devices.db';

export const serveDefaults: ServeConfig = {
  port: 8080,
  host: '127.0.0.1',
  db: defaultDbPath,
  tenant: demoTenant,
  demoDevices: 0,
  tls: false,
  tlsCert: null,
  tlsKey: null,
  issuer: null,
  audience: null,
  jwksUrl: null,
  bodyLimitBytes: 64 * 1024,
  logLevel: 'info',
};

const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Checks a resolved configuration; throws one message listing every problem. */
export function validateServeConfig(config: ServeConfig): ServeConfig {
  const problems: string[] = [];
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) problems.push('--port must be 0..65535');
  if (!guid.test(config.tenant)) problems.push('--tenant must be a GUID');
  if (!Number.isInteger(config.demoDevices) || config.demoDevices < 0) problems.push('--demo-devices must be a whole number');
  if ((config.tlsCert === null) !== (config.tlsKey === null)) problems.push('--tls-cert and --tls-key go together');
  const production = [config.issuer, config.audience, config.jwksUrl];
  if (production.some((v) => v !== null) && production.some((v) => v === null)) {
    problems.push('--issuer, --audience and --jwks-url go together');
  }
  if (problems.length) throw new Error(`Invalid configuration: ${problems.join('; ')}`);
  return config;
}

/** Parses durations such as 3600, 90s, 30m, 1h, 2d into seconds. */
export function parseDurationSeconds(text: string): number {
  const match = /^(\d+)\s*(s|m|h|d)?$/i.exec(text.trim());
  if (!match) throw new Error(`Invalid duration '${text}': use e.g. 3600, 90s, 30m, 1h, 2d`);
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[(match[2] ?? 's').toLowerCase() as 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}
