// Admin: schedules, and the bulk (disaster) forwarding sets switched on or off with the result per member.
import { act, badge, clear, h, loader, table, when } from '../dom.js';
import { t } from '../i18n.js';
import { onLive } from '../live.js';
import { forwarding } from '../resources.js';

const resultKind = { ok: 'ok', unchanged: '', error: 'bad' };

/** A schedule row in one line: days or date, the hours, what happens. */
const scheduleRow = (r) => [r.date ?? (r.days ?? []).join(','), r.holiday ? t('bulk.holiday') : '', `${r.from}–${r.to}`, r.action, r.destination ? `→ ${r.destination}` : ''].filter(Boolean).join(' ');

export function render(main) {
  const error = h('p', { class: 'form-error', role: 'alert' });
  const sets = h('div');
  const results = h('div', { id: 'bulk-results' });
  const schedules = h('div');

  const switchSet = (name, on) =>
    act(error, async () => {
      const r = await forwarding.bulk(name, on);
      clear(
        results,
        h('h2', {}, t(on ? 'bulk.resultOn' : 'bulk.resultOff', { name })),
        table(
          [
            { label: t('bulk.member'), cell: (x) => x.member },
            { label: t('bulk.result'), cell: (x) => badge(t(`bulk.result.${x.result}`), resultKind[x.result]) },
            { label: t('bulk.destination'), cell: (x) => x.destination ?? '' },
            { label: t('bulk.detail'), cell: (x) => x.detail ?? '' },
          ],
          r,
        ),
      );
      await load();
    });

  const load = loader(
    error,
    () => Promise.all([forwarding.bulkSets(), forwarding.schedules()]),
    ([bulk, sched]) => {
      clear(
        sets,
        table(
          [
            { label: t('bulk.name'), cell: (s) => s.name },
            { label: t('bulk.state'), cell: (s) => (s.active ? badge(t('common.on'), 'warn') : badge(t('common.off'))) },
            { label: t('bulk.changed'), cell: (s) => when(s.changedAt) },
            { label: t('bulk.members'), cell: (s) => s.members },
            {
              label: '',
              class: 'actions',
              cell: (s) => [
                h('button', { type: 'button', class: 'danger', disabled: s.active, onclick: () => switchSet(s.name, true) }, t('bulk.turnOn')),
                ' ',
                h('button', { type: 'button', disabled: !s.active, onclick: () => switchSet(s.name, false) }, t('bulk.turnOff')),
              ],
            },
          ],
          bulk,
          { empty: t('bulk.none') },
        ),
      );
      clear(
        schedules,
        table(
          [
            { label: t('bulk.name'), cell: (s) => s.name },
            { label: t('bulk.rows'), cell: (s) => (s.rows ?? []).map((r) => h('div', {}, scheduleRow(r))) },
            { label: t('bulk.extensions'), cell: (s) => (s.extensions ?? []).join(', ') },
          ],
          sched,
        ),
      );
    },
  );

  clear(main, h('h1', {}, t('nav.bulk')), error, sets, results, h('h2', {}, t('bulk.schedules')), schedules);
  void load();
  return onLive(['config', 'forwarding'], load);
}
