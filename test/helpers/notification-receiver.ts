import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/** One change as a receiver gets it (Graph's changeNotification). */
export interface ReceivedChange {
  subscriptionId: string;
  subscriptionExpirationDateTime: string;
  changeType: string;
  resource: string;
  resourceData: { '@odata.type': string; '@odata.id': string; id: string; status?: string; operationType?: string; deviceId?: string };
  clientState: string | null;
  tenantId: string;
}

export interface ReceivedPost {
  body: string;
  signature: string | null;
  changes: ReceivedChange[];
  at: number;
}

/** How the receiver answers the next notification POST: a status, or never (the connection hangs). */
export type Answer = number | 'hang' | 'close';

/**
 * A change-notification receiver a test runs on 127.0.0.1 (node:http): it answers the
 * validation handshake (echo the token, or misbehave on purpose), records every notification
 * POST, and answers each with the next of `answers` (then 202).
 */
export class NotificationReceiver {
  readonly posts: ReceivedPost[] = [];
  readonly validations: string[] = [];
  /** how the handshake is answered */
  handshake: 'echo' | 'wrong' | 500 | 'hang' = 'echo';
  /** answers of the next notification POSTs, in order; afterwards 202 */
  answers: Answer[] = [];
  /** when set, every notification POST is answered so */
  always: Answer | null = null;
  private readonly hanging = new Set<ServerResponse>();
  private server!: Server;
  url = '';

  static async start(path = '/hook'): Promise<NotificationReceiver> {
    const receiver = new NotificationReceiver();
    receiver.server = createServer((request, response) => void receiver.handle(request, response));
    await new Promise<void>((done) => receiver.server.listen(0, '127.0.0.1', done));
    const { port } = receiver.server.address() as { port: number };
    receiver.url = `http://127.0.0.1:${port}${path}`;
    return receiver;
  }

  /** Every change received, in order of arrival (duplicates included). */
  get changes(): ReceivedChange[] {
    return this.posts.flatMap((post) => post.changes);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const token = new URL(request.url ?? '/', 'http://x').searchParams.get('validationToken');
    if (token !== null) {
      this.validations.push(token);
      if (this.handshake === 'hang') return void this.hanging.add(response);
      if (this.handshake === 500) return void response.writeHead(500).end();
      response.writeHead(200, { 'content-type': 'text/plain' }).end(this.handshake === 'echo' ? token : `${token}x`);
      return;
    }
    const answer = this.always ?? this.answers.shift() ?? 202;
    const post: ReceivedPost = { body, signature: (request.headers['x-teamwork-signature'] as string | undefined) ?? null, changes: [], at: Date.now() };
    try {
      post.changes = (JSON.parse(body) as { value: ReceivedChange[] }).value;
    } catch {
      // recorded as it came; the test sees no changes in it
    }
    if (answer === 'hang') return void this.hanging.add(response);
    if (answer === 'close') {
      this.failed.push(post);
      return void request.socket.destroy();
    }
    // Only an answered 2xx counts as received: a failed POST is sent again.
    if (answer >= 200 && answer < 300) this.posts.push(post);
    else this.failed.push(post);
    response.writeHead(answer).end();
  }

  /** POSTs answered with a failure (they must come again). */
  readonly failed: ReceivedPost[] = [];

  /** Notification POSTs (or handshakes) left unanswered so far. */
  get hangingCount(): number {
    return this.hanging.size;
  }

  /** Cuts every unanswered request's connection: the sender sees a failure at once. */
  releaseHanging(): void {
    for (const response of this.hanging) response.socket?.destroy();
    this.hanging.clear();
  }

  async stop(): Promise<void> {
    for (const response of this.hanging) response.socket?.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((done) => this.server.close(() => done()));
  }
}

/** Whether `signature` is `sha256=` + the HMAC-SHA256 of `body` under `secret`, as a receiver checks it. */
export function signatureValid(secret: string, body: string, signature: string | null): boolean {
  if (!signature?.startsWith('sha256=')) return false;
  const expected = createHmac('sha256', secret).update(body, 'utf8').digest();
  const given = Buffer.from(signature.slice('sha256='.length), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
