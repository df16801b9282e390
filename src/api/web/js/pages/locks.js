// Admin: what the auth guard and the login lockout are holding (users, addresses, console accounts), with unlock.
import { act, clear, h, loader, table, when } from '../dom.js';
import { t } from '../i18n.js';
import { onLive } from '../live.js';
import { locks } from '../resources.js';

/** The DELETE body that clears this one lock. */
const which = (l) => (l.kind === 'address' ? { kind: 'address', address: l.address } : l.kind === 'user' ? { kind: 'user', user: l.user, address: l.address ?? null } : { kind: l.kind, user: l.user });

export function render(main) {
  const error = h('p', { class: 'form-error', role: 'alert' });
  const list = h('div');
  const unlock = (body) =>
    act(error, async () => {
      await locks.clear(body);
      await load();
    });
  const load = loader(
    error,
    () => locks.list(),
    (rows) => {
      clear(
        list,
        table(
          [
            { label: t('locks.kind'), cell: (l) => t(`locks.${l.kind}`) },
            { label: t('locks.who'), cell: (l) => [l.user, l.address].filter(Boolean).join(' @ ') },
            { label: t('locks.since'), cell: (l) => when(l.lockedAt) },
            { label: t('locks.until'), cell: (l) => when(l.until) },
            { label: t('locks.reason'), cell: (l) => l.reason ?? '' },
            { label: '', class: 'actions', cell: (l) => h('button', { type: 'button', onclick: () => unlock(which(l)) }, t('locks.unlock')) },
          ],
          rows,
          { empty: t('locks.none') },
        ),
      );
    },
  );
  clear(main, h('h1', {}, t('nav.locks')), h('div', { class: 'toolbar' }, h('button', { type: 'button', class: 'danger', onclick: () => unlock({ kind: 'all' }) }, t('locks.unlockAll'))), error, list);
  void load();
  return onLive(['security'], load);
}
