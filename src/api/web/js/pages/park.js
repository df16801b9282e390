// The park lot: who waits in which slot, parked by whom, since when.
import { clear, h, loader, table, when } from '../dom.js';
import { t } from '../i18n.js';
import { onLive } from '../live.js';
import { park } from '../resources.js';

export function render(main) {
  const error = h('p', { class: 'form-error', role: 'alert' });
  const list = h('div');
  const load = loader(
    error,
    () => park.list(),
    (rows) => {
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
    },
  );
  clear(main, h('h1', {}, t('nav.park')), error, list);
  void load();
  return onLive(['park'], load);
}
