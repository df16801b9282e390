// Starts hibiki with its HTTP API on a free loopback port and talks to it as a client would (issue #12):
// accounts are made as `hibiki admin create` makes them, then every request goes over real HTTP.
import { ApiAccountStore, type ApiRole } from '../../src/store/api-account-store.js';
import { AuditStore } from '../../src/store/audit-store.js';
import { Accounts } from '../../src/api/accounts.js';
import { startHibiki, type RunningHibiki, type StartOptions } from './hibiki.js';

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
  text: string;
}

export interface ApiClient {
  token: string | undefined;
  request<T = unknown>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse<T>>;
  get<T = unknown>(path: string): Promise<ApiResponse<T>>;
  post<T = unknown>(path: string, body?: unknown): Promise<ApiResponse<T>>;
  put<T = unknown>(path: string, body?: unknown): Promise<ApiResponse<T>>;
  patch<T = unknown>(path: string, body?: unknown): Promise<ApiResponse<T>>;
  delete<T = unknown>(path: string): Promise<ApiResponse<T>>;
}

export interface RunningApi extends RunningHibiki {
  /** http://127.0.0.1:PORT */
  baseUrl: string;
  /** Makes an account directly in the database, as `hibiki admin create` does. */
  createAccount(username: string, password: string, role: ApiRole, extension?: string): Promise<void>;
  /** A client without a token. */
  client(): ApiClient;
  /** A client logged in as this account (created first when `role` is given). */
  login(username: string, password: string, role?: ApiRole, extension?: string): Promise<ApiClient>;
}

export function apiClient(baseUrl: string, token?: string): ApiClient {
  const c: ApiClient = {
    token,
    async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
      const h: Record<string, string> = { ...headers };
      if (c.token) h.authorization = `Bearer ${c.token}`;
      let payload: string | Buffer | undefined;
      if (body instanceof Buffer || typeof body === 'string') payload = body;
      else if (body !== undefined) {
        payload = JSON.stringify(body);
        h['content-type'] ??= 'application/json';
      }
      const res = await fetch(baseUrl + path, { method, headers: h, body: payload });
      const text = await res.text();
      let parsed: unknown = text;
      if ((res.headers.get('content-type') ?? '').includes('json') && text !== '') parsed = JSON.parse(text);
      return { status: res.status, body: parsed as T, headers: res.headers, text };
    },
    get: (p) => c.request('GET', p),
    post: (p, b) => c.request('POST', p, b),
    put: (p, b) => c.request('PUT', p, b),
    patch: (p, b) => c.request('PATCH', p, b),
    delete: (p) => c.request('DELETE', p),
  };
  return c;
}

export async function startApi(opts: StartOptions = {}): Promise<RunningApi> {
  const http = { host: '127.0.0.1', port: 0, ...((opts.config?.http as object | undefined) ?? {}) };
  const running = await startHibiki({ ...opts, config: { ...opts.config, http } });
  const address = running.server.httpAddress;
  if (!address) throw new Error('the HTTP API did not start');
  const baseUrl = `http://127.0.0.1:${address.port}`;
  const accounts = new Accounts(new ApiAccountStore(running.server.db), new AuditStore(running.server.db), Date.now, () => ({
    attempts: 3,
    addressFailuresPerMinute: 20,
    lockMinutes: 60,
    sessionHours: 12,
  }));
  const api: RunningApi = {
    ...running,
    baseUrl,
    async createAccount(username, password, role, extension) {
      if (!(await accounts.create({ username, password, role, extension }))) throw new Error(`account ${username} exists`);
    },
    client: () => apiClient(baseUrl),
    async login(username, password, role, extension) {
      if (role) await api.createAccount(username, password, role, extension);
      const c = apiClient(baseUrl);
      const r = await c.post<{ token: string }>('/api/login', { username, password });
      if (r.status !== 200) throw new Error(`login as ${username}: ${r.status} ${r.text}`);
      c.token = r.body.token;
      return c;
    },
  };
  return api;
}
