import pg from 'pg';

/** One replica's connections to the benchmark database at one reading, by what they are for. */
export interface ReplicaConnections {
  /** connections of the replica's statement pool (`--pool-size`) */
  pool: number;
  /** the dedicated LISTEN connection */
  listen: number;
  /** the dedicated supervisor-lease connection */
  lease: number;
  total: number;
}

/**
 * How a replica's backends are told apart in pg_stat_activity. Every connection of a replica
 * carries its `application_name` (set in its `--db` URL); `query` is the last statement a
 * backend ran, and the two dedicated connections only ever run one statement each: `LISTEN
 * teamwork_devices_work` (src/store/postgres/work-notifications.ts) and `SELECT
 * pg_try_advisory_lock(…)` (src/store/postgres/supervisor-lease.ts). Everything else is the
 * pool. A dedicated connection caught between its connect and its first statement (an empty
 * `query`) would count as pool for that one reading.
 */
const readingSql = `SELECT application_name AS name,
    count(*) FILTER (WHERE query LIKE 'LISTEN %')::int AS listen,
    count(*) FILTER (WHERE query LIKE '%pg_try_advisory_lock(%')::int AS lease,
    count(*)::int AS total
  FROM pg_stat_activity
  WHERE datname = $1 AND backend_type = 'client backend' AND application_name = ANY($2::text[])
  GROUP BY application_name`;

/**
 * Samples the connections each replica holds to one database, once a second, from a
 * connection of its own to the admin database (not counted: other database, no replica's
 * application_name), and keeps each replica's maximum of every kind.
 */
export class ConnectionSampler {
  private readonly client: pg.Client;
  private timer: NodeJS.Timeout | null = null;
  private reading: Promise<void> | null = null;
  readonly max = new Map<string, ReplicaConnections>();
  samples = 0;
  failures = 0;

  constructor(adminUrl: string, private readonly database: string, private readonly applicationNames: readonly string[]) {
    this.client = new pg.Client({ connectionString: adminUrl });
    for (const name of applicationNames) this.max.set(name, { pool: 0, listen: 0, lease: 0, total: 0 });
  }

  async start(intervalMs = 1000): Promise<void> {
    await this.client.connect();
    await this.read();
    this.timer = setInterval(() => {
      // a reading slower than the interval is not stacked on
      this.reading ??= this.read().finally(() => (this.reading = null));
    }, intervalMs);
  }

  private stopped = false;

  /** Takes a last reading and closes the connection; later calls do nothing. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.reading;
    await this.read();
    await this.client.end();
  }

  private async read(): Promise<void> {
    try {
      const { rows } = await this.client.query<{ name: string; listen: number; lease: number; total: number }>(readingSql, [this.database, this.applicationNames]);
      this.samples++;
      for (const row of rows) {
        const max = this.max.get(row.name)!;
        const pool = row.total - row.listen - row.lease;
        max.pool = Math.max(max.pool, pool);
        max.listen = Math.max(max.listen, row.listen);
        max.lease = Math.max(max.lease, row.lease);
        max.total = Math.max(max.total, row.total);
      }
    } catch {
      this.failures++;
    }
  }
}
