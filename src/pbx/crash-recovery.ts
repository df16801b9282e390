// Crash recovery (issue #14): the calls the journal says were up when the last process died are ended
// properly by the next one. Both legs of each get a BYE with Reason Q.850 cause 41 (temporary failure),
// and the call gets its CDR rows — disposition failed, hangup_by system, cause 41, its real start and
// answer times, and as end the last moment the old server was known alive.
//
// Two steps around the stack's start: prepare() rebuilds every leg's dialog before the stack listens, so
// that a phone's own BYE arriving in the first moments is answered 200 rather than 481; run() then sends
// the BYEs and writes the CDRs, each call's rows in one transaction with the removal of its journal row.
// The BYEs' answers are not waited for (the CDR does not depend on them), so a peer that never answers
// costs a client transaction's timeout in the background, not a slower start. A phone's BYE that arrives
// after hibiki's own finds no dialog and is answered 481 (RFC 3261 §15.1.2): the call is over either way.
import type { Logger } from 'pino';
import type { Dialog } from '../sip/dialog.js';
import { byeRestored, restoreDialog } from '../sip/dialog-snapshot.js';
import type { SipStack } from '../sip/stack.js';
import type { ActiveCallStore } from '../store/active-call-store.js';
import type { CdrStore } from '../store/cdr-store.js';
import { callCdrs } from './call-cdr.js';
import { decodeEntry, type JournalEntry } from './call-journal.js';
import { formatReason, Q850 } from './q850.js';

export interface RecoveryDeps {
  stack: SipStack;
  store: ActiveCallStore;
  cdr: CdrStore;
  logger: Logger;
}

export interface RecoverySummary {
  calls: number;
  legs: number;
  /** Legs whose BYE was answered 2xx. */
  answered: number;
  /** Legs whose BYE got an error, no answer (408) or could not be sent (503). */
  failed: number;
  /** Legs whose phone hung up (BYE answered 200 by us) before our BYE left. */
  hungUpFirst: number;
}

export interface PreparedRecovery {
  /** Calls found in the journal. */
  readonly calls: number;
  /**
   * Send the BYEs and write the CDRs (then the journal rows go). Returns at once; the promise settles
   * when every BYE has its final response, which takes at most a client transaction's timeout (64*T1).
   */
  run(): Promise<RecoverySummary>;
}

interface Recovered {
  key: string;
  entry: JournalEntry;
  dialogs: Array<{ role: string; number: string; dialog: Dialog }>;
}

const REASON_TEXT = 'call lost: hibiki restarted after a failure';
const HANGUP_REASON = 'hibiki restarted after a crash; call ended at recovery';

/** Read the journal and rebuild the dialogs of every call in it (call before the stack starts listening). */
export async function prepareRecovery(deps: RecoveryDeps): Promise<PreparedRecovery> {
  const { store, logger } = deps;
  const rows = store.all();
  const recovered: Recovered[] = [];
  const unusable: string[] = [];
  // The old server was alive at its last heartbeat and at its last journal write, whichever is later:
  // the calls are recorded as ended then. Not the restart time, which may be hours later (a machine that
  // had to reboot) and would bill that time; the heartbeat makes billsec short by at most its interval.
  let lastAlive = store.lastBeat() ?? 0;
  for (const row of rows) {
    lastAlive = Math.max(lastAlive, row.updatedAt);
    const decoded = decodeEntry(row.entry);
    if (!decoded.ok) {
      logger.error({ callId: row.callId, error: decoded.error }, 'crash recovery: unreadable journal entry discarded (no BYE, no CDR)');
      unusable.push(row.key);
      continue;
    }
    const dialogs: Recovered['dialogs'] = [];
    for (const leg of decoded.entry.legs) {
      try {
        dialogs.push({ role: leg.role, number: leg.number, dialog: await restoreDialog(deps.stack, leg.dialog) });
      } catch (err) {
        logger.warn({ callId: row.callId, leg: leg.role, err }, 'crash recovery: leg not restored');
      }
    }
    recovered.push({ key: row.key, entry: decoded.entry, dialogs });
  }

  return {
    calls: recovered.length,
    run: () => {
      for (const key of unusable) remove(deps, key);
      if (recovered.length === 0) return Promise.resolve({ calls: 0, legs: 0, answered: 0, failed: 0, hungUpFirst: 0 });
      const byes = recovered.flatMap((r) => r.dialogs.map((d) => bye(deps, r.entry, d)));
      for (const r of recovered) writeCdr(deps, r, lastAlive);
      logger.warn({ calls: recovered.length, legs: byes.length, endedAt: new Date(lastAlive).toISOString() }, 'crash recovery: calls ended');
      return Promise.all(byes).then((outcomes) => {
        const summary: RecoverySummary = {
          calls: recovered.length,
          legs: outcomes.length,
          answered: outcomes.filter((o) => o === 'answered').length,
          failed: outcomes.filter((o) => o === 'failed').length,
          hungUpFirst: outcomes.filter((o) => o === 'hung-up-first').length,
        };
        logger.info(summary, 'crash recovery finished');
        return summary;
      });
    },
  };
}

async function bye(deps: RecoveryDeps, entry: JournalEntry, leg: Recovered['dialogs'][number]): Promise<'answered' | 'failed' | 'hung-up-first'> {
  const log = deps.logger.child({ callId: entry.callId, linkedId: entry.linkedId, leg: leg.role, number: leg.number, legCallId: leg.dialog.callId });
  try {
    const res = await byeRestored(leg.dialog, { reason: formatReason(Q850.temporaryFailure, REASON_TEXT) });
    if (!res) {
      log.info('crash recovery: the phone hung up first');
      return 'hung-up-first';
    }
    const ok = res.status >= 200 && res.status < 300;
    log[ok ? 'info' : 'warn']({ status: res.status }, ok ? 'crash recovery: leg ended' : 'crash recovery: BYE not accepted');
    return ok ? 'answered' : 'failed';
  } catch (err) {
    log.warn({ err }, 'crash recovery: BYE not sent');
    return 'failed';
  }
}

function writeCdr(deps: RecoveryDeps, r: Recovered, endedAt: number): void {
  const outcome = {
    ...r.entry.call,
    endedAt,
    disposition: 'failed' as const,
    hangupBy: 'system' as const,
    q850: Q850.temporaryFailure,
    reason: HANGUP_REASON,
  };
  try {
    deps.store.transaction(() => {
      deps.cdr.insertMany(callCdrs({ callId: r.entry.callId, linkedId: r.entry.linkedId }, outcome, { disposition: 'failed' }));
      deps.store.remove(r.key);
    });
  } catch (err) {
    deps.logger.error({ err, callId: r.entry.callId }, 'crash recovery: CDR not written');
    // Never recover the same call twice: its BYEs are on their way.
    remove(deps, r.key);
  }
}

function remove(deps: RecoveryDeps, key: string): void {
  try {
    deps.store.remove(key);
  } catch (err) {
    deps.logger.error({ err, key }, 'crash recovery: journal row not deleted');
  }
}
