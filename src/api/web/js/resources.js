// One small function per API resource: the request and the reading of its answer's shape. When a route's
// shape changes, this file is the one place to adjust.
import { api, del, get, patch, post, put, query } from './api.js';

const list = (body, ...keys) => {
  if (Array.isArray(body)) return body;
  for (const k of keys) if (Array.isArray(body?.[k])) return body[k];
  return [];
};
const enc = encodeURIComponent;

export const extensions = {
  list: async (q) => list(await get(`/api/extensions${query({ q })}`), 'extensions'),
  one: (number) => get(`/api/extensions/${enc(number)}`),
  create: (body) => post('/api/extensions', body),
  update: (number, body) => patch(`/api/extensions/${enc(number)}`, body),
  remove: (number, force) => del(`/api/extensions/${enc(number)}${query({ force: force ? 'true' : undefined })}`),
  exportPath: (encoding) => `/api/extensions/export.csv${query({ encoding })}`,
  /** → {created, updated}; a bad file throws an ApiError whose details are [{line, message}]. */
  import: (csv, encoding) => api('POST', `/api/extensions/import${query({ encoding })}`, csv, { contentType: 'text/csv' }),
  setPin: (number, pin) => put(`/api/extensions/${enc(number)}/pin`, { pin }),
};

export const groups = {
  list: async () => list(await get('/api/groups'), 'groups'),
  update: (number, body) => patch(`/api/groups/${enc(number)}`, body),
  remove: (number) => del(`/api/groups/${enc(number)}`),
  pickup: async () => list(await get('/api/pickup-groups'), 'pickupGroups', 'groups'),
};

export const calls = {
  list: async () => list(await get('/api/calls'), 'calls'),
  hangup: (id) => del(`/api/calls/${enc(id)}`),
};

export const park = {
  list: async () => list(await get('/api/park'), 'slots', 'parked'),
};

export const locks = {
  list: async () => list(await get('/api/locks'), 'locks'),
  /** `which`: {kind:'user', user} | {kind:'address', address} | {kind:'account', user} | {kind:'all'} */
  clear: (which) => del('/api/locks', which),
};

export const conditions = ['cfu', 'cfb', 'cfna', 'cfur'];

/** Reads the forwarding of one extension into {destinations[5], conditions{cfu…}, noAnswerTimeout, dnd}. */
function readForwarding(body) {
  const destinations = [...(body?.destinations ?? [])];
  while (destinations.length < 5) destinations.push('');
  const c = body?.conditions ?? {};
  return {
    destinations: destinations.slice(0, 5),
    conditions: Object.fromEntries(conditions.map((k) => [k, { on: Boolean(c[k]?.on), destination: c[k]?.destination ?? '' }])),
    noAnswerTimeout: body?.noAnswerTimeout ?? 20,
    dnd: Boolean(body?.dnd),
    effective: body?.effective,
  };
}

export const forwarding = {
  of: async (number) => readForwarding(await get(`/api/extensions/${enc(number)}/forwarding`)),
  setCondition: (number, condition, on, destination) => put(`/api/extensions/${enc(number)}/forwarding/${condition}`, { on, ...(destination ? { destination } : {}) }),
  setSettings: (number, body) => put(`/api/extensions/${enc(number)}/forwarding`, body),
  setDnd: (number, on) => put(`/api/extensions/${enc(number)}/dnd`, { on }),
  overview: async () => list(await get('/api/forwarding'), 'extensions', 'rows'),
  schedules: async () => list(await get('/api/schedules'), 'schedules'),
  bulkSets: async () => list(await get('/api/bulk-forwarding'), 'sets', 'bulkForwarding'),
  /** → the per-member results. */
  bulk: async (name, on) => list(await post(`/api/bulk-forwarding/${enc(name)}/${on ? 'on' : 'off'}`), 'results'),
};

export const voicemail = {
  messages: async (box) => list(await get(`/api/voicemail/${enc(box)}/messages`), 'messages'),
  audio: (box, id) => api('GET', `/api/voicemail/${enc(box)}/messages/${enc(id)}/audio`, undefined, { as: 'blob' }),
  remove: (box, id) => del(`/api/voicemail/${enc(box)}/messages/${enc(id)}`),
};

export const queues = {
  list: async () => list(await get('/api/queues'), 'queues'),
  pause: (extension) => post(`/api/agents/${enc(extension)}/pause`),
  resume: (extension) => post(`/api/agents/${enc(extension)}/resume`),
};

export const cdr = {
  /** → {total, rows} */
  search: async (filters) => {
    const body = await get(`/api/cdr${query(filters)}`);
    return Array.isArray(body) ? { total: body.length, rows: body } : { total: body?.total ?? 0, rows: list(body, 'rows', 'records') };
  },
  exportPath: (filters) => `/api/cdr/export.csv${query(filters)}`,
};

export const audit = {
  /** → {total, entries} */
  search: async (filters) => {
    const body = await get(`/api/audit${query(filters)}`);
    return { total: body?.total ?? 0, entries: list(body, 'entries') };
  },
};

export const accounts = {
  list: () => get('/api/accounts'),
  create: (body) => post('/api/accounts', body),
  unlock: (username) => post(`/api/accounts/${enc(username)}/unlock`),
  remove: (username) => del(`/api/accounts/${enc(username)}`),
};

export const me = {
  login: (username, password) => post('/api/login', { username, password }),
  logout: () => post('/api/logout'),
  password: (current, password) => put('/api/me/password', { current, password }),
};
