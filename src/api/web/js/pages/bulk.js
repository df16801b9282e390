// Admin: schedules, and the bulk (disaster) forwarding sets switched on or off with the result per member.
import { act, badge, clear, h, table } from '../dom.js';
import { t } from '../i18n.js';
import { forwarding } from '../resources.js';

const text = (v) => (v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

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
            { label: t('ext.number'), cell: (x) => x.extension ?? x.number ?? '' },
            { label: t('bulk.result'), cell: (x) => (x.ok === false || x.error ? badge(x.error ?? x.message ?? t('bulk.failed'), 'bad') : badge(x.message ?? t('bulk.ok'), 'ok')) },
          ],
          r,
        ),
      );
      await load();
    });

  const load = () =>
    act(error, async () => {
      const [bulk, sched] = await Promise.all([forwarding.bulkSets(), forwarding.schedules().catch(() => [])]);
      clear(
        sets,
        table(
          [
            { label: t('bulk.name'), cell: (s) => s.name },
            { label: t('bulk.state'), cell: (s) => (s.on || s.active ? badge(t('common.on'), 'warn') : badge(t('common.off'))) },
            { label: t('bulk.members'), cell: (s) => text(s.members ?? s.extensions) },
            { label: t('bulk.destination'), cell: (s) => text(s.destination) },
            {
              label: '',
              class: 'actions',
              cell: (s) => [
                h('button', { type: 'button', class: 'danger', onclick: () => switchSet(s.name, true) }, t('bulk.turnOn')),
                ' ',
                h('button', { type: 'button', onclick: () => switchSet(s.name, false) }, t('bulk.turnOff')),
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
            { label: t('bulk.rows'), cell: (s) => text(s.rows ?? s.entries) },
            { label: t('bulk.active'), cell: (s) => text(s.active ?? s.current) },
          ],
          sched,
        ),
      );
    });

  clear(main, h('h1', {}, t('nav.bulk')), error, sets, results, h('h2', {}, t('bulk.schedules')), schedules);
  void load();
}
