// Who may do what (issue #12, F-API): admins everything; supervisors read everything and run queues and
// agents; agents their own agent state; users only their own extension (forwarding, DND, voicemail,
// password, PIN). Routes declare their roles with `allow`; routes on one extension add `ownExtension`.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiRole } from '../store/api-account-store.js';
import type { Principal } from './accounts.js';
import { forbidden, unauthorized } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authentication hook on every /api request but login. */
    principal?: Principal;
  }
}

export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw unauthorized();
  return req.principal;
}

/** A preHandler: only these roles pass. */
export function allow(...roles: ApiRole[]) {
  return async (req: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const p = principalOf(req);
    if (!roles.includes(p.role)) throw forbidden(`this needs the role ${roles.join(' or ')} (you are ${p.role})`);
  };
}

/** Any of `roles`, or the account bound to this extension. */
export function ownExtension(req: FastifyRequest, extension: string, roles: ApiRole[] = ['admin']): void {
  const p = principalOf(req);
  if (roles.includes(p.role)) return;
  if (p.extension !== undefined && p.extension === extension) return;
  throw forbidden(`you may only see and change extension ${p.extension ?? '(none)'}`);
}
