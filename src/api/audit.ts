// Writes one audit row for a change made through the API (issue #12): who, when, from where, what.
import type { FastifyRequest } from 'fastify';
import type { AuditStore } from '../store/audit-store.js';

/** Keys whose values never go into the audit trail. */
const secret = /password|pin|token|secret/i;

function redact(detail: unknown): unknown {
  if (Array.isArray(detail)) return detail.map(redact);
  if (typeof detail !== 'object' || detail === null) return detail;
  return Object.fromEntries(Object.entries(detail).map(([k, v]) => [k, secret.test(k) ? '(set)' : redact(v)]));
}

export type AuditFn = (req: FastifyRequest, action: string, target: string, detail?: unknown) => void;

export function auditWriter(store: AuditStore, now: () => number): AuditFn {
  return (req, action, target, detail) =>
    store.add({ at: now(), actor: req.principal?.username ?? '-', address: req.ip, action, target, detail: detail === undefined ? '' : JSON.stringify(redact(detail)) });
}
