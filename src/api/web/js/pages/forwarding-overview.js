// Admin: the forwarding of every extension on one page (which conditions are on, where to, DND, schedule).
import { badge, clear, h, loader, table } from '../dom.js';
import { t } from '../i18n.js';
import { onLive } from '../live.js';
import { conditions, forwarding } from '../resources.js';

/** One condition of an overview row: the destination in force now (row.effective), if any. */
function condition(row, key) {
  const to = row.effective?.[key];
  return to ? badge(`→ ${to}`, 'warn') : '';
}

export function render(main) {
  const error = h('p', { class: 'form-error', role: 'alert' });
  const list = h('div');
  const load = loader(
    error,
    () => forwarding.overview(),
    (rows) => {
      clear(
        list,
        table(
          [
            { label: t('ext.number'), cell: (r) => r.number ?? r.extension },
            { label: t('ext.name'), cell: (r) => r.name ?? '' },
            ...conditions.map((k) => ({ label: t(`fwd.${k}`), cell: (r) => condition(r, k) })),
            { label: t('fwd.noAnswerTimeout'), cell: (r) => r.effective?.noAnswerTimeout ?? '' },
            { label: t('fwd.dnd'), cell: (r) => (r.dnd ? badge(t('common.on'), 'bad') : '') },
            { label: t('fwd.source'), cell: (r) => (r.effective?.source && r.effective.source !== 'normal' ? badge(t(`fwd.source.${r.effective.source}`), 'warn') : '') },
          ],
          rows,
          { key: (r) => r.number ?? r.extension },
        ),
      );
    },
  );
  clear(main, h('h1', {}, t('nav.forwarding')), error, list);
  void load();
  return onLive(['config', 'forwarding'], load);
}
