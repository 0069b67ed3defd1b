/** A minimal Graph client for the CLI: base URL, bearer token, Graph errors as exceptions. */
export class GraphClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async get<T = Record<string, unknown>>(path: string): Promise<T> {
    const response = await this.send('GET', path);
    return (await response.json()) as T;
  }

  /** POSTs an action; returns the operation path from `Location`. */
  async action(path: string, body: unknown): Promise<string> {
    const response = await this.send('POST', path, body);
    const location = response.headers.get('location');
    if (!location) throw new Error(`the server answered ${response.status} without a Location header`);
    return location;
  }

  /** POSTs or DELETEs where the answer is the status alone (the extensions' 204s). */
  async call(method: 'POST' | 'DELETE', path: string): Promise<number> {
    return (await this.send(method, path)).status;
  }

  /** Sends a JSON body (or none) and returns the JSON reply; a 204 is null. */
  async json<T = Record<string, unknown>>(method: 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T | null> {
    const response = await this.send(method, path, body);
    return response.status === 204 ? null : ((await response.json()) as T);
  }

  private async send(method: string, path: string, body?: unknown): Promise<Response> {
    const url = path.startsWith('http') ? path : `${this.baseUrl}${path}`;
    const response = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status >= 400) {
      const text = await response.text();
      let detail = text;
      try {
        const error = JSON.parse(text).error;
        detail = `${error.code}: ${error.message}`;
      } catch {
        // not a Graph error body; show it as it came
      }
      throw new Error(`${method} ${path} → ${response.status} ${detail}`);
    }
    return response;
  }
}
