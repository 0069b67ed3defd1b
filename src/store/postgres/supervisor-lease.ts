import pg from 'pg';

const supervisorLock = 0x7477_6402;

/**
 * One replica at a time supervises: it holds an advisory lock on a connection of its own, so
 * the lock lives and dies with it. A replica that goes away releases it; another takes it at
 * its next try.
 */
export class SupervisorLease {
  private client: pg.Client | null = null;
  private held = false;
  /** the attempt under way: callers asking at once share it */
  private attempt: Promise<boolean> | null = null;

  constructor(private readonly url: string) {}

  /**
   * Several loops ask (supervisor, notifications, schedulers). Asking at once must not open a
   * connection each: the lock taken on one that is then forgotten would never be released, and
   * no one, not even this replica, would get it again.
   */
  holds(): Promise<boolean> {
    if (this.held) return Promise.resolve(true);
    this.attempt ??= this.take().finally(() => (this.attempt = null));
    return this.attempt;
  }

  private async take(): Promise<boolean> {
    try {
      if (!this.client) {
        const client = new pg.Client({ connectionString: this.url, keepAlive: true });
        client.on('error', () => this.drop(client));
        client.on('end', () => this.drop(client));
        await client.connect();
        this.client = client;
      }
      const { rows } = await this.client.query('SELECT pg_try_advisory_lock($1) AS locked', [supervisorLock]);
      this.held = rows[0].locked === true;
      return this.held;
    } catch {
      if (this.client) this.drop(this.client);
      return false;
    }
  }

  async close(): Promise<void> {
    await this.client?.end().catch(() => {});
  }

  private drop(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = null;
    this.held = false;
    client.end().catch(() => {});
  }
}
