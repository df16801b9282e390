// Digest authentication of requests from devices (F-AUTH), with lockout and IP blocking.
// decide() works out the verdict (and keeps the guard's books); authenticate() sends what it says
// through one place for challenges and one for refusals, and returns the authenticated extension or null.
import type { Logger } from 'pino';
import type { SipRequest, TransportName } from '../sip/message.js';
import type { ServerResponse } from '../sip/server-response.js';
import { DigestServer, parseAuthParams, type AuthParams } from '../sip/digest.js';
import type { ExtensionConfig } from '../config/schema.js';
import type { AuthGuard } from './auth-guard.js';
import type { Directory } from './directory.js';

export type AuthDecision = { kind: 'accept'; extension: ExtensionConfig } | { kind: 'challenge'; stale: boolean } | { kind: 'refuse'; status: 400 | 403; reason: string };

export class RequestAuthenticator {
  constructor(
    private readonly digest: DigestServer,
    private readonly guard: AuthGuard,
    private readonly directory: Directory,
    private readonly logger: Logger,
  ) {}

  authenticate(req: SipRequest, res: ServerResponse, challengeStatus: 401 | 407 = 401): ExtensionConfig | null {
    const decision = this.decide(req, challengeStatus);
    switch (decision.kind) {
      case 'accept':
        return decision.extension;
      case 'challenge':
        this.challenge(res, challengeStatus, decision.stale);
        return null;
      case 'refuse':
        this.refuse(res, decision.status, decision.reason);
        return null;
    }
  }

  /** The verdict on a request's credentials; logs security events and records failures and successes. */
  decide(req: SipRequest, challengeStatus: 401 | 407): AuthDecision {
    const src = req.source?.address ?? 'unknown';
    const transport = req.source?.transport;
    const security = (kind: string, user?: string, extra?: Record<string, unknown>) =>
      this.logger.warn({ event: 'security', kind, user, src, srcPort: req.source?.port, method: req.method, callId: req.callId, ...extra }, 'request refused');

    if (this.guard.isIpBlocked(src)) {
      security('ip-blocked');
      return { kind: 'refuse', status: 403, reason: 'Forbidden (blocked)' };
    }
    const credential = this.findCredential(req, challengeStatus === 401 ? 'authorization' : 'proxy-authorization');
    if (!credential) return { kind: 'challenge', stale: false };
    const claimed = credential.username;
    if (claimed !== undefined && this.guard.refuses(claimed, src, transport)) {
      security('user-locked', claimed);
      return { kind: 'refuse', status: 403, reason: 'Forbidden (locked)' };
    }
    const verdict = this.digest.verifyParsed(credential.parsed, req.method, req.uri, (username) => {
      const ext = this.directory.extension(username);
      return ext ? { password: ext.password } : undefined;
    });
    switch (verdict.result) {
      case 'ok': {
        const ext = this.directory.extension(verdict.username);
        if (!ext) return { kind: 'challenge', stale: false };
        if (ext.suspended) {
          security('suspended', ext.number);
          return { kind: 'refuse', status: 403, reason: 'Forbidden (suspended)' };
        }
        this.guard.recordSuccess(ext.number, src);
        return { kind: 'accept', extension: ext };
      }
      case 'stale':
        return { kind: 'challenge', stale: true };
      case 'bad-credentials':
      case 'unknown-user': {
        security(verdict.result === 'unknown-user' ? 'unknown-user' : 'bad-password', verdict.username);
        if (this.failureLocksOut(verdict.username, src, transport)) return { kind: 'refuse', status: 403, reason: 'Forbidden' };
        return { kind: 'challenge', stale: false };
      }
      case 'uri-mismatch': {
        // A correct response for another request: a captured credential moved to this one. RFC 7616
        // §3.4.6 answers 400, and it counts as a failed attempt (it does not authorise this request).
        security('digest-uri-mismatch', verdict.username, { uri: verdict.uri, requestUri: req.uri });
        if (this.failureLocksOut(verdict.username, src, transport)) return { kind: 'refuse', status: 403, reason: 'Forbidden' };
        return { kind: 'refuse', status: 400, reason: 'Bad Request (digest uri does not match the Request-URI)' };
      }
      case 'replay':
        security('nonce-replay', verdict.username);
        return { kind: 'challenge', stale: false };
      case 'malformed':
        this.logger.debug({ callId: req.callId, reason: verdict.reason, src }, 'malformed credentials; rechallenging');
        return { kind: 'challenge', stale: false };
    }
  }

  /** Records a failed attempt; true when it blocked the address or locked the username for this request's source. */
  private failureLocksOut(user: string, src: string, transport: TransportName | undefined): boolean {
    const outcome = this.guard.recordFailure(user, src);
    return outcome.ipBlocked || (outcome.userLocked && this.guard.refuses(user, src, transport));
  }

  // Challenges and refusals are stateless (issue #14): an unauthenticated request costs no
  // transaction and no retransmissions, so a flood of them cannot fill memory or be reflected.
  private challenge(res: ServerResponse, status: 401 | 407, stale: boolean): void {
    const name = status === 401 ? 'www-authenticate' : 'proxy-authenticate';
    res.sendStateless(status, undefined, { headers: { [name]: this.digest.challenge(stale) } });
  }

  private refuse(res: ServerResponse, status: 400 | 403, reason: string): void {
    res.sendStateless(status, reason);
  }

  /** The Digest credentials for our realm (RFC 3261 §22.4: other realms and schemes are ignored). */
  private findCredential(req: SipRequest, header: string): { parsed: AuthParams; username?: string } | null {
    const realm = this.digest.currentRealm;
    for (const value of req.getAll(header)) {
      const parsed = parseAuthParams(value);
      if (!parsed || parsed.scheme !== 'digest') continue;
      const r = parsed.params.get('realm');
      if (r !== undefined && r !== realm) continue;
      // Handed to the digest check as parsed: a REGISTER's credentials are parsed once, not twice.
      return { parsed, username: parsed.params.get('username') };
    }
    return null;
  }
}
