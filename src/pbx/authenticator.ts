// Digest authentication of requests from devices (F-AUTH), with lockout and IP blocking.
// Answers the challenge/refusal itself; returns the authenticated extension or null.
import type { Logger } from 'pino';
import type { SipRequest } from '../sip/message.js';
import type { ServerResponse } from '../sip/stack.js';
import { DigestServer, parseAuthParams } from '../sip/digest.js';
import type { ExtensionConfig } from '../config/schema.js';
import type { AuthGuard } from './auth-guard.js';
import type { Directory } from './directory.js';

export class RequestAuthenticator {
  constructor(
    private digest: DigestServer,
    private readonly guard: AuthGuard,
    private readonly directory: Directory,
    private readonly logger: Logger,
    private realm: string,
  ) {}

  /** Swap the digest server after a reload changed realm, algorithms or nonce lifetime. */
  update(digest: DigestServer, realm: string): void {
    this.digest = digest;
    this.realm = realm;
  }

  authenticate(req: SipRequest, res: ServerResponse, challengeStatus: 401 | 407 = 401): ExtensionConfig | null {
    const src = req.source?.address ?? 'unknown';
    const security = (kind: string, user?: string) =>
      this.logger.warn({ event: 'security', kind, user, src, srcPort: req.source?.port, method: req.method, callId: req.callId }, 'request refused');

    if (this.guard.isIpBlocked(src)) {
      security('ip-blocked');
      res.sendStateless(403, 'Forbidden (blocked)');
      return null;
    }
    const credential = this.findCredential(req, challengeStatus === 401 ? 'authorization' : 'proxy-authorization');
    if (!credential) {
      this.challenge(res, challengeStatus, false);
      return null;
    }
    const claimed = credential.username;
    if (claimed !== undefined && this.guard.isUserLocked(claimed)) {
      security('user-locked', claimed);
      res.sendStateless(403, 'Forbidden (locked)');
      return null;
    }
    const verdict = this.digest.verify(credential.value, req.method, (username) => {
      const ext = this.directory.extension(username);
      return ext ? { password: ext.password } : undefined;
    });
    switch (verdict.result) {
      case 'ok': {
        const ext = this.directory.extension(verdict.username);
        if (!ext) {
          this.challenge(res, challengeStatus, false);
          return null;
        }
        if (ext.suspended) {
          security('suspended', ext.number);
          res.sendStateless(403, 'Forbidden (suspended)');
          return null;
        }
        this.guard.recordSuccess(ext.number);
        return ext;
      }
      case 'stale':
        this.challenge(res, challengeStatus, true);
        return null;
      case 'bad-credentials':
      case 'unknown-user': {
        security(verdict.result === 'unknown-user' ? 'unknown-user' : 'bad-password', verdict.username);
        const outcome = this.guard.recordFailure(verdict.username, src);
        if (outcome.userLocked || outcome.ipBlocked) {
          res.sendStateless(403, 'Forbidden');
          return null;
        }
        this.challenge(res, challengeStatus, false);
        return null;
      }
      case 'replay':
        security('nonce-replay', verdict.username);
        this.challenge(res, challengeStatus, false);
        return null;
      case 'malformed':
        this.logger.debug({ callId: req.callId, reason: verdict.reason, src }, 'malformed credentials; rechallenging');
        this.challenge(res, challengeStatus, false);
        return null;
    }
  }

  // Challenges and refusals are stateless (issue #14): an unauthenticated request costs no
  // transaction and no retransmissions, so a flood of them cannot fill memory or be reflected.
  private challenge(res: ServerResponse, status: 401 | 407, stale: boolean): void {
    const name = status === 401 ? 'www-authenticate' : 'proxy-authenticate';
    res.sendStateless(status, undefined, { headers: { [name]: this.digest.challenge(stale) } });
  }

  /** The Digest credentials for our realm (RFC 3261 §22.4: other realms and schemes are ignored). */
  private findCredential(req: SipRequest, header: string): { value: string; username?: string } | null {
    for (const value of req.getAll(header)) {
      const parsed = parseAuthParams(value);
      if (!parsed || parsed.scheme !== 'digest') continue;
      const realm = parsed.params.get('realm');
      if (realm !== undefined && realm !== this.realm) continue;
      return { value, username: parsed.params.get('username') };
    }
    return null;
  }
}
