// Admin: the forwarding of every extension on one page (which conditions are on, where to, DND, schedule).
import { act, badge, clear, h, table } from '../dom.js';
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
  // Only the newest load draws: an earlier, slower answer (a poll, an event) must not overwrite a newer one.
  let loads = 0;
  const load = () =>
    act(error, async () => {
      const mine = ++loads;
      const rows = await forwarding.overview();
      if (mine !== loads) return;
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
    });
  clear(main, h('h1', {}, t('nav.forwarding')), error, list);
  void load();
  return onLive(['config', 'forwarding'], load);
}
