// Forwarding, DND, bulk forwarding and screening statistics from the command line (F-FWD, F-SCREEN).
import { pino } from 'pino';
import { createLogger } from '../log/logger.js';
import type { HibikiConfig } from '../config/schema.js';
import { ScreeningStore } from '../store/screening-store.js';
import { monthIn, previousMonth } from '../features/screening.js';
import { conditionDestination, forwardConditions, ForwardingService, type BulkResult, type EffectiveForwarding, type ForwardCondition } from '../features/forwarding.js';
import { out, withConfigDatabase } from './io.js';

export function withForwarding(file: string, fn: (fwd: ForwardingService, config: HibikiConfig) => number): number {
  return withConfigDatabase(file, (db, config) => {
    // Changes are logged (stderr, so stdout stays the command's answer) like the server's own.
    const logger = createLogger('info', pino.destination({ dest: 2, sync: true }));
    const fwd = new ForwardingService({ db, config: () => config, now: Date.now, logger });
    fwd.applyConfig(config);
    return fn(fwd, config);
  });
}

export function describeEffective(e: EffectiveForwarding): string {
  const parts = forwardConditions.filter((c) => e[c] !== undefined).map((c) => `${c}=${e[c]}`);
  return [`source=${e.source}`, ...(parts.length > 0 ? parts : ['no forwarding']), `dnd=${e.dnd ? 'on' : 'off'}`, `noAnswerTimeout=${e.noAnswerTimeout}`].join(' ');
}

export function showForwarding(file: string, ext: string): number {
  return withForwarding(file, (fwd, config) => {
    if (!config.extensions.some((e) => e.number === ext)) {
      process.stderr.write(`unknown extension ${ext}\n`);
      return 1;
    }
    const st = fwd.state(ext);
    out(`extension\t${ext}`);
    out(`dnd\t${st.dnd ? 'on' : 'off'}`);
    out(`noAnswerTimeout\t${st.noAnswerTimeout}`);
    st.destinations.forEach((d, i) => out(`destination ${i + 1}\t${d}`));
    for (const c of forwardConditions) {
      const x = st.conditions[c];
      const dest = x.destination !== null ? (st.destinations[x.destination] ?? '') : '';
      out(`${c}\t${conditionDestination(st, c) !== undefined ? 'on' : 'off'}\t${dest}`);
    }
    out(`effective now\t${describeEffective(fwd.effective(ext))}`);
    return 0;
  });
}

export function setForwarding(file: string, ext: string, condition: ForwardCondition, on: boolean, destination: string | undefined): number {
  return withForwarding(file, (fwd) => {
    const r = fwd.setCondition(ext, condition, on, destination, 'cli');
    if (!r.ok) {
      process.stderr.write(`${ext} ${condition}: ${r.reason}\n`);
      return 1;
    }
    out(`${ext}\t${condition}\t${on ? 'on' : 'off'}\t${r.destination ?? ''}`);
    return 0;
  });
}

export function setDnd(file: string, ext: string, on: boolean): number {
  return withForwarding(file, (fwd) => {
    try {
      fwd.setDnd(ext, on, 'cli');
    } catch (err) {
      process.stderr.write(`${(err as Error).message}\n`);
      return 1;
    }
    out(`${ext}\tdnd\t${on ? 'on' : 'off'}`);
    return 0;
  });
}

export function bulk(file: string, action: string, name: string | undefined): number {
  return withForwarding(file, (fwd) => {
    if (action === 'list') {
      for (const s of fwd.bulkStatus()) {
        out([s.name, s.active ? 'on' : 'off', `${s.members} members`, s.changedAt !== undefined ? new Date(s.changedAt).toISOString() : ''].join('\t'));
      }
      return 0;
    }
    let results: BulkResult[];
    try {
      results = action === 'on' ? fwd.bulkOn(name!, 'cli') : fwd.bulkOff(name!, 'cli');
    } catch (err) {
      process.stderr.write(`${(err as Error).message}\n`);
      return 1;
    }
    for (const r of results) out([r.member, r.kind, r.result, r.destination ?? '', r.detail ?? ''].join('\t'));
    const errors = results.filter((r) => r.result === 'error').length;
    const ok = results.filter((r) => r.result === 'ok').length;
    out(`bulk forwarding ${name} ${action}: ${ok} ok, ${results.length - ok - errors} unchanged, ${errors} error`);
    return errors > 0 ? 1 : 0;
  });
}

export function screeningStats(file: string): number {
  return withConfigDatabase(file, (db, config) => {
    const thisMonth = monthIn(config.tenant.timezone, Date.now());
    const lastMonth = previousMonth(thisMonth);
    const totals = new Map<string, { thisMonth: number; lastMonth: number }>();
    for (const row of new ScreeningStore(db).list()) {
      const t = totals.get(row.target) ?? { thisMonth: 0, lastMonth: 0 };
      if (row.month === thisMonth) t.thisMonth += row.count;
      else if (row.month === lastMonth) t.lastMonth += row.count;
      totals.set(row.target, t);
    }
    out(['target', thisMonth, lastMonth].join('\t'));
    for (const [target, t] of totals) out([target, t.thisMonth, t.lastMonth].join('\t'));
    return 0;
  });
}
