// The park lot: who waits in which slot, parked by whom, since when.
import { act, clear, h, table, when } from '../dom.js';
import { t } from '../i18n.js';
import { onLive } from '../live.js';
import { park } from '../resources.js';

export function render(main) {
  const error = h('p', { class: 'form-error', role: 'alert' });
  const list = h('div');
  // Only the newest load draws: an earlier, slower answer (a poll, an event) must not overwrite a newer one.
  let loads = 0;
  const load = () =>
    act(error, async () => {
      const mine = ++loads;
      const rows = await park.list();
      if (mine !== loads) return;
      clear(
        list,
        table(
          [
            { label: t('park.slot'), cell: (p) => p.slot },
            { label: t('park.party'), cell: (p) => [p.party?.number ?? '', p.party?.name ? ` ${p.party.name}` : ''] },
            { label: t('park.by'), cell: (p) => p.parkedBy ?? '' },
            { label: t('park.since'), cell: (p) => when(p.since) },
          ],
          rows,
          { empty: t('park.none') },
        ),
      );
    });
  clear(main, h('h1', {}, t('nav.park')), error, list);
  void load();
  return onLive(['park'], load);
}
