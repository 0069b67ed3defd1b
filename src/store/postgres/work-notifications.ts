import pg from 'pg';

/** The channel of work notifications; statements that NOTIFY in bulk pass it as a parameter. */
export const workChannel = 'teamwork_devices_work';
/** Between the device ids of one notification; device ids are GUIDs, which hold no comma. */
const deviceIdSeparator = ',';

/**
 * The SQL that NOTIFYs replicas of the devices in `deviceIdsFrom` (a relation with a
 * device_id column): a list of ids per notification, kept under PostgreSQL's 8,000-byte
 * payload. `channel` is the placeholder that carries workChannel.
 */
export function notifyDevicesSql(deviceIdsFrom: string, channel: string): string {
  return `SELECT pg_notify(${channel}, string_agg(device_id, '${deviceIdSeparator}')) FROM (
      SELECT device_id, sum(octet_length(device_id) + 1) OVER (ORDER BY device_id) / 7000 AS payload FROM ${deviceIdsFrom}
    ) AS ids GROUP BY payload`;
}

/**
 * Work notifications between replicas: NOTIFY on a pooled connection, LISTEN on one
 * connection of its own that reconnects by itself when the database comes back.
 */
export class WorkNotifications {
  readonly channel = workChannel;
  private readonly listeners: ((deviceId: string) => void)[] = [];
  private client: pg.Client | null = null;
  private closed = false;

  constructor(private readonly url: string) {}

  subscribe(listener: (deviceId: string) => void): void {
    this.listeners.push(listener);
    if (this.listeners.length === 1) void this.listen();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.client?.end().catch(() => {});
  }

  private async listen(): Promise<void> {
    let delay = 250;
    while (!this.closed) {
      const client = new pg.Client({ connectionString: this.url, keepAlive: true });
      // Listened for before connecting: an error while LISTEN is being set up must not go unhandled.
      const lost = new Promise<void>((resolve) => {
        client.on('error', () => resolve());
        client.once('end', () => resolve());
      });
      try {
        await client.connect();
        client.on('notification', (message) => {
          for (const deviceId of message.payload?.split(deviceIdSeparator) ?? []) {
            if (deviceId) for (const listener of this.listeners) listener(deviceId);
          }
        });
        await client.query(`LISTEN ${workChannel}`);
        this.client = client;
        delay = 250;
        await lost;
      } catch {
        // unreachable database: retry below
      }
      this.client = null;
      await client.end().catch(() => {});
      if (this.closed) return;
      await new Promise((r) => setTimeout(r, delay).unref());
      delay = Math.min(delay * 2, 5000);
    }
  }
}
