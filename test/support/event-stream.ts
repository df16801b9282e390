// A client of hibiki's live event stream (GET /api/events over a WebSocket, issue #12), as the web console
// is one: every message is kept, and tests wait on the messages they expect.
import WebSocket from 'ws';

export interface StreamMessage {
  seq?: number;
  at?: string;
  type: string;
  [field: string]: unknown;
}

export class EventStream {
  readonly messages: StreamMessage[] = [];
  closed: { code: number; reason: string } | undefined;
  private readonly waiters = new Set<() => void>();

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: WebSocket.RawData) => {
      this.messages.push(JSON.parse(data.toString()) as StreamMessage);
      this.wake();
    });
    socket.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
  }

  /** Opens the stream and waits for its `ready` message (the backlog, if asked for, came before it). */
  static async open(baseUrl: string, opts: { token?: string; header?: string; since?: number } = {}): Promise<EventStream> {
    const q = new URLSearchParams();
    if (opts.token) q.set('token', opts.token);
    if (opts.since !== undefined) q.set('since', String(opts.since));
    const url = `${baseUrl.replace(/^http/, 'ws')}/api/events${q.size > 0 ? `?${q}` : ''}`;
    const socket = new WebSocket(url, opts.header ? { headers: { authorization: `Bearer ${opts.header}` } } : {});
    // Listening before the socket opens: the first messages can arrive with the upgrade's answer.
    const stream = new EventStream(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    await stream.waitFor((m) => m.type === 'ready');
    return stream;
  }

  /** The HTTP status an upgrade is refused with (e.g. 401), or 101 when it is accepted. */
  static async status(baseUrl: string, query = ''): Promise<number> {
    const socket = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/api/events${query}`);
    return new Promise<number>((resolve, reject) => {
      socket.once('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        socket.terminate();
      });
      socket.once('open', () => {
        resolve(101);
        socket.close();
      });
      socket.once('error', (err) => reject(err));
    });
  }

  /** The events (messages with a seq), in order. */
  get events(): StreamMessage[] {
    return this.messages.filter((m) => m.seq !== undefined);
  }

  /** Waits until a message matching `match` has arrived (at or after index `from`), and returns it. */
  async waitFor(match: (m: StreamMessage) => boolean, timeoutMs = 10_000, from = 0): Promise<StreamMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.slice(from).find(match);
      if (found) return found;
      if (this.closed) throw new Error(`event stream closed (${this.closed.code} ${this.closed.reason}) before the expected message`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected event not received; got ${JSON.stringify(this.messages)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, left);
        function done(): void {
          clearTimeout(t);
          resolve();
        }
        this.waiters.add(done);
      });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const closed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
    // A paused socket would never read the server's answer to the close.
    this.socket.resume();
    this.socket.close();
    await closed;
  }

  private wake(): void {
    const all = [...this.waiters];
    this.waiters.clear();
    for (const w of all) w();
  }
}
